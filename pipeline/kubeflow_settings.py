"""What compile, submit and kfp-local agree on, without importing TFX (so `submit` starts fast)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from models import sections
from pipeline.config import Config, ConfigError

OBJECT_STORES = ("gs://", "s3://")
# This checkout: what the images hold as their working directory (kubeflow_runner.IMAGE_SOURCE_DIR),
# and where kfp-local runs the tasks instead.
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
