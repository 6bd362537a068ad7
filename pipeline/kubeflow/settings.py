"""What compile, submit and kfp-local agree on, without importing TFX (so `submit` starts fast)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import yaml

from models import sections
from pipeline.config import Config, ConfigError

OBJECT_STORES = ("gs://", "s3://")
# `compile --target`: "kfp" for the open-source KFP v2 backend (the default, as `submit` without
# --vertex targets it), "vertex" for Vertex AI Pipelines (what KubeflowV2DagRunner writes).
TARGETS = ("kfp", "vertex")
DEFAULT_TARGET = "kfp"
SCHEMA_VERSION = "0.0.1"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
# This checkout: what the images hold as their working directory (compiler.IMAGE_SOURCE_DIR),
# and where kfp-local runs the tasks instead.
PROJECT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The run parameter of each config-reading component and the sections it carries (those the
# component reads, `models.sections`): a run that changes only `training` changes only
# `trainer_config`, so KFP re-runs the Trainer and what follows and serves the rest from its cache.
CONFIG_PARAMETERS: Dict[str, Tuple[str, Mapping[str, Any]]] = {
    "DatasetGen": ("dataset_config", sections.DATASET),
    "Augment": ("augment_config", sections.AUGMENT),
    "TeacherFinetune": ("teacher_finetune_config", sections.TEACHER_FINETUNE),
    "TeacherInference": ("teacher_inference_config", sections.TEACHER_INFERENCE),
    "Trainer": ("trainer_config", sections.TRAINER),
}
# Config keys the compiled graph or compiled arguments depend on: no run parameter carries
# them, so `submit --set` refuses them.
COMPILE_TIME_KEYS = ("project.name", "teacher.finetuned_path", "evaluation", "push", "beam", "kubeflow")


def _overlaps(key: str, section: str) -> bool:
    return key == section or key.startswith(section + ".") or section.startswith(key + ".")


def parameters_reading(key: str, declared: Sequence[str]) -> List[str]:
    """The config parameters among `declared` whose sections hold (or lie inside) `key`."""
    return [
        name
        for name, section_types in CONFIG_PARAMETERS.values()
        if name in declared and any(_overlaps(key, section) for section in section_types)
    ]


def _require_object_store(uri: str, key: str) -> None:
    if not uri.startswith(OBJECT_STORES):
        raise ConfigError(
            key,
            f"{uri!r} is not a gs:// or s3:// URI. Kubeflow pods cannot see this machine's files, and "
            "TFX executors open artifacts with tf.io.gfile/Beam IO, which cannot read KFP's default "
            "minio:// root; use a gs:// or s3:// bucket (for MinIO, its S3 endpoint via s3://).",
        )


def check_kubeflow_config(config: Config) -> None:
    """Raise ConfigError for settings that cannot work inside Kubeflow pods."""
    _require_object_store(config.kubeflow.pipeline_root, "kubeflow.pipeline_root")
    _require_object_store(config.kubeflow.serving_dir, "kubeflow.serving_dir")
    for key, path in config.data.labelled_paths("data"):
        _require_object_store(path, key)
    for i, source in enumerate(config.data.unlabeled):
        _require_object_store(source.path, f"data.unlabeled[{i}].path")
    if config.teacher.finetuned_path:
        _require_object_store(config.teacher.finetuned_path, "teacher.finetuned_path")
    if os.path.isabs(config.teacher.base):  # the loader made a local folder absolute
        raise ConfigError(
            "teacher.base",
            f"local folder {config.teacher.base!r} is not in the image; use a built-in base or bake it in",
        )


def is_local_spec(spec: Mapping[str, Any]) -> bool:
    """A spec compiled with `--local-root` (for kfp-local): its tasks name this machine's files."""
    return not str(spec.get("defaultPipelineRoot", "")).startswith(OBJECT_STORES)


def _artifact_types(spec: Dict[str, Any]) -> Iterator[Tuple[Dict[str, Any], str, str]]:
    """(holder, key, where) for every artifact type of the spec: the components' input and
    output artifacts (`artifactType`) and the importers' `typeSchema`."""
    for name, component in spec.get("components", {}).items():
        for side in ("inputDefinitions", "outputDefinitions"):
            for key, definition in component.get(side, {}).get("artifacts", {}).items():
                yield definition, "artifactType", f"component {name} {side[:-11]} artifact {key}"
    for label, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
        if "importer" in executor:
            yield executor["importer"], "typeSchema", f"importer {label}"


def _schema_title(artifact_type: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The title of an artifact type given as `schemaTitle` or as an instance schema; None when
    there is none (missing, empty or untitled instance schema)."""
    if not artifact_type:
        return None
    if artifact_type.get("schemaTitle"):
        return artifact_type["schemaTitle"]
    schema = yaml.safe_load(artifact_type.get("instanceSchema") or "") or {}
    return schema.get("title") if isinstance(schema, dict) else None


def spec_target(spec: Mapping[str, Any]) -> str:
    """ "vertex" for a spec whose artifact types are instance schemas (KubeflowV2DagRunner's own
    output), else "kfp"."""
    return "vertex" if any("instanceSchema" in (h.get(k) or {}) for h, k, _ in _artifact_types(dict(spec))) else "kfp"


def kfp_spec(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """KubeflowV2DagRunner's (Vertex) spec rewritten for the open-source KFP v2 backend (a copy).

    Each artifact type becomes a `schemaTitle` with a `schemaVersion`: the OSS launcher registers
    an instance schema verbatim and its driver hands downstream tasks artifacts without one (TFX
    then fails on `None`, kubeflow/pipelines#13476). The titles stay TFX's (`tfx.Examples`, ...):
    TFX's entrypoint in the image maps those to artifact classes, while `system.*` titles would
    need its patch (sky-uk/kfp-operator's tfx-patch) and lose Examples vs Dataset. An input
    artifact with no type takes its producer's output type, an importer its component's output
    type; a type still missing raises ValueError naming it. The copy of each component's inputs
    spec in its executor's arguments gets the same types.
    """
    spec = copy.deepcopy(dict(spec))
    for holder, key, _ in _artifact_types(spec):
        title = _schema_title(holder.get(key))
        if title:
            holder[key] = {"schemaTitle": title, "schemaVersion": holder[key].get("schemaVersion") or SCHEMA_VERSION}
        else:
            holder.pop(key, None)
    components = spec.get("components", {})
    for task in spec.get("root", {}).get("dag", {}).get("tasks", {}).values():
        component = components.get(task.get("componentRef", {}).get("name"), {})
        declared = component.get("inputDefinitions", {}).get("artifacts", {})
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            ref = source.get("taskOutputArtifact")
            if key not in declared or "artifactType" in declared[key] or not ref:
                continue
            producer = spec["root"]["dag"]["tasks"].get(ref["producerTask"], {})
            made = components.get(producer.get("componentRef", {}).get("name"), {})
            output = made.get("outputDefinitions", {}).get("artifacts", {}).get(ref["outputArtifactKey"], {})
            if "artifactType" in output:
                declared[key]["artifactType"] = dict(output["artifactType"])
    for component in components.values():
        executor = spec.get("deploymentSpec", {}).get("executors", {}).get(component.get("executorLabel"), {})
        outputs = list(component.get("outputDefinitions", {}).get("artifacts", {}).values())
        if "importer" in executor and "typeSchema" not in executor["importer"] and len(outputs) == 1:
            if "artifactType" in outputs[0]:
                executor["importer"]["typeSchema"] = dict(outputs[0]["artifactType"])
    missing = [where for holder, key, where in _artifact_types(spec) if key not in holder]
    if missing:
        raise ValueError(f"no artifact type for {', '.join(missing)}")
    for component in components.values():
        container = spec.get("deploymentSpec", {}).get("executors", {}).get(component.get("executorLabel"), {})
        if "container" in container:
            _retype_inputs_spec(container["container"], component.get("inputDefinitions", {}).get("artifacts", {}))
    return spec


def _retype_inputs_spec(container: Dict[str, Any], declared: Mapping[str, Any]) -> None:
    """The copy of the component's input definitions that TFX 2.1 specs pass their executor as
    `--json_serialized_inputs_spec_args` (its types included) given the rewritten types."""
    for args in (container.get("args", []), container.get("lifecycle", {}).get("preCacheCheck", {}).get("args", [])):
        for i, arg in enumerate(args[:-1]):
            if arg == INPUTS_SPEC_FLAG:
                inputs_spec = json.loads(args[i + 1])
                for key, definition in inputs_spec.get("artifacts", {}).items():
                    if key in declared:
                        definition["artifactType"] = dict(declared[key]["artifactType"])
                args[i + 1] = json.dumps(inputs_spec, indent=2, sort_keys=True)
