"""Compile the pipeline of `create_pipeline(config)` into a KFP v2 pipeline spec (YAML).

TFX's KubeflowV2DagRunner does the compiling; this module only chooses where each component
runs: the CPU image by default, the GPU image and GPU resources for `kubeflow.gpu_components`,
object-store roots, and each config-reading component's sections as its own run parameter
(`settings.CONFIG_PARAMETERS`). With a local root the spec names this machine's files
instead, for `python -m pipeline kfp-local` only. `target` "vertex" keeps the runner's output
(Vertex AI Pipelines takes it as is), "kfp" rewrites it for the open-source KFP v2 backend
(`settings.kfp_spec`).
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any, Dict, Optional

import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base import base_component
from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner, pipeline_builder

import schemas
from pipeline.config import Config, ConfigError, ResourceConfig, config_to_json
from pipeline.kubeflow.settings import (
    CONFIG_PARAMETERS,
    DEFAULT_TARGET,
    PROJECT_DIR,
    TARGETS,
    check_kubeflow_config,
    kfp_spec,
)
from pipeline.pipeline import create_pipeline

# Where docker/Dockerfile* put the project (installed editable, so packaged files stay here).
IMAGE_SOURCE_DIR = "/pipeline"
ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]i?)?$")
_MEMORY_UNITS = {
    None: 1e-9,
    "K": 1e-6,
    "M": 1e-3,
    "G": 1.0,
    "T": 1e3,
    "Ki": 2**10 / 1e9,
    "Mi": 2**20 / 1e9,
    "Gi": 2**30 / 1e9,
    "Ti": 2**40 / 1e9,
}


def _cpu(value: str, key: str) -> float:
    match = _CPU.match(value.strip())
    if not match:
        raise ConfigError(key, f"expected CPUs like '4' or '500m', got {value!r}")
    return float(match.group(1)) / (1000.0 if match.group(2) else 1.0)


def _memory_gb(value: str, key: str) -> float:
    match = _MEMORY.match(value.strip())
    if not match:
        raise ConfigError(key, f"expected memory like '16G' or '512Mi', got {value!r}")
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def resource_spec(resources: ResourceConfig, key: str) -> ResourceSpec:
    """`ResourceConfig` -> KFP ResourceSpec (limits; memory in GB as KFP expects)."""
    spec = ResourceSpec(
        cpu_limit=_cpu(resources.cpu, f"{key}.cpu"), memory_limit=_memory_gb(resources.memory, f"{key}.memory")
    )
    if resources.gpu_count:
        if not resources.gpu_type:
            raise ConfigError(f"{key}.gpu_type", "required when gpu_count > 0 (e.g. nvidia.com/gpu)")
        spec.accelerator.type = resources.gpu_type
        spec.accelerator.count = resources.gpu_count
    return spec


def kubeflow_pipeline(config: Config, local_root: Optional[str] = None) -> tfx.dsl.Pipeline:
    """`create_pipeline(config)` with object-store roots, per-component resources and each
    config reader's sections as a run parameter (defaults: this config). `local_root`: a folder
    of this machine as pipeline root, the local `push.serving_dir` and this checkout's files, for
    kfp-local; such a spec cannot run on Kubeflow."""
    if local_root is None:
        check_kubeflow_config(config)
        config = copy.deepcopy(config)
        # The compiling machine's cache folder means nothing inside a pod.
        config.teacher.cache_dir = f"{IMAGE_SOURCE_DIR}/.cache/teachers"
        pipeline_root, serving_dir = config.kubeflow.pipeline_root, config.kubeflow.serving_dir
        dataset_schema = os.path.join(IMAGE_SOURCE_DIR, os.path.relpath(schemas.DATASET_SCHEMA, PROJECT_DIR))
    else:
        if "://" in local_root:
            raise ConfigError("--local-root", f"{local_root!r} is a URI; kfp-local needs a folder of this machine")
        pipeline_root, serving_dir = os.path.abspath(local_root), config.push.serving_dir
        dataset_schema = schemas.DATASET_SCHEMA
    parameters = {
        component_id: data_types.RuntimeParameter(
            name=name,
            ptype=str,
            default=config_to_json(config, list(section_types)),
            description=f"the config sections {component_id} reads, as JSON; `submit --set key=value` edits them",
        )
        for component_id, (name, section_types) in CONFIG_PARAMETERS.items()
    }
    pipeline = create_pipeline(
        config,
        pipeline_root=pipeline_root,
        serving_dir=serving_dir,
        config_parameters=parameters,
        dataset_schema=dataset_schema,
    )
    cpu = resource_spec(config.kubeflow.cpu_resources, "kubeflow.cpu_resources")
    gpu = resource_spec(config.kubeflow.gpu_resources, "kubeflow.gpu_resources")
    containers = {c.id: c for c in pipeline.components if isinstance(c, base_component.BaseComponent)}
    # With teacher.finetuned_path an Importer replaces TeacherFinetune: the default list may name it.
    replaced = {"TeacherFinetune"} if config.teacher.finetuned_path else set()
    for i, component_id in enumerate(config.kubeflow.gpu_components):
        if component_id not in containers and component_id not in replaced:
            raise ConfigError(
                f"kubeflow.gpu_components[{i}]", f"{component_id!r} is not a component ({', '.join(containers)})"
            )
    for component_id, component in containers.items():
        component.with_platform_config(gpu if component_id in config.kubeflow.gpu_components else cpu)
    return pipeline


def component_images(config: Config) -> Dict[str, str]:
    """KubeflowV2DagRunner's image map: GPU components -> gpu_image, the rest -> cpu_image."""
    images = {component_id: config.kubeflow.gpu_image for component_id in config.kubeflow.gpu_components}
    images[pipeline_builder.DEFAULT_IMAGE_PATH_KEY] = config.kubeflow.cpu_image
    return images


def compile_pipeline(
    config: Config, output_path: str, local_root: Optional[str] = None, target: str = DEFAULT_TARGET
) -> Dict[str, Any]:
    """Write the KFP v2 PipelineSpec YAML for `target` ("kfp": what `kfp.Client` and the KFP UI
    upload; "vertex": what Vertex AI Pipelines runs), or with `local_root` what kfp-local runs;
    returns it."""
    if target not in TARGETS:
        raise ConfigError("--target", f"{target!r} is not one of {', '.join(TARGETS)}")
    pipeline = kubeflow_pipeline(config, local_root)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=component_images(config), use_pipeline_spec_2_1=True
        )
    )
    # The runner returns a Vertex PipelineJob; KFP's API takes the PipelineSpec inside it,
    # with the pipeline root as its default (a run may still override it).
    spec = runner.run(pipeline, write_out=False)["pipelineSpec"]
    spec["defaultPipelineRoot"] = pipeline.pipeline_info.pipeline_root
    # TFX keeps parameter defaults in the PipelineJob's runtime config, which KFP never sees.
    declared = spec["root"]["inputDefinitions"]["parameters"]
    for component in pipeline.components:
        for value in component.exec_properties.values():
            if isinstance(value, data_types.RuntimeParameter):
                declared[value.name].update(defaultValue=value.default, description=value.description)
    if target == "kfp":
        spec = kfp_spec(spec)
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, "w", encoding="utf-8") as f:
        f.write(
            f"# KFP v2 pipeline spec of {config.project.name} for {target}, "
            f"compiled by `python -m pipeline compile --target {target}`.\n"
        )
        yaml.safe_dump(spec, f, sort_keys=True)
    return spec
