"""What compile and submit agree on, without importing TFX (so `submit` starts fast)."""

from __future__ import annotations

import os

from pipeline.config import Config, ConfigError

CONFIG_PARAMETER = "config_json"
OBJECT_STORES = ("gs://", "s3://")
# Config keys the compiled graph or compiled arguments depend on: changing them in the
# `config_json` run parameter would not change what runs, so `submit --set` refuses them.
COMPILE_TIME_KEYS = ("project.name", "teacher.finetuned_path", "evaluation", "push", "beam", "kubeflow")


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
