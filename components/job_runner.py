"""Run one of the project's Beam jobs inside a TFX executor."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence

import apache_beam as beam
import yaml
from tfx import types
from tfx.types import artifact_utils

from pipeline.config import config_from_json


def run_job(
    job_run: Callable[..., Dict[str, Any]],
    config_json: str,
    args: List[str],
    pipeline: Optional[beam.Pipeline] = None,
) -> Dict[str, Any]:
    """Call `job_run(argv, test_pipeline=pipeline)` with the pipeline's config.

    The config travels as JSON in the component's exec properties; the job reads a YAML file,
    so it is written to a temporary file. A job's SystemExit (its CLI failure path) becomes a
    RuntimeError so TFX marks the execution failed with the job's message.
    """
    config = config_from_json(config_json)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pipeline.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(config.to_dict(), f, allow_unicode=True)
        try:
            return job_run(["--config", path, *args], test_pipeline=pipeline)
        except SystemExit as exc:
            raise RuntimeError(f"{job_run.__module__} failed (exit code {exc.code}); see its output above") from None


def record_outputs(examples: types.Artifact, splits: Sequence[str], summary: Dict[str, Any], counters: Sequence[str]) -> None:
    """Mark the splits a job wrote and copy its row counts onto the artifact (visible in MLMD)."""
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    for key in counters:
        examples.set_int_custom_property(key, summary[key])
