"""What the project's executors share: their config sections, and how a job's failure
reaches MLMD and the console with the job's own message."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.proto.orchestration import execution_result_pb2
from tfx.types import artifact_utils
from tfx.types.component_spec import ExecutionParameter

import config_core
from beam_jobs.outputs import JobError

# The exec property carrying a component's config sections as JSON (locally a constant, on
# Kubeflow the component's own run parameter); the executor reads only its sections.
CONFIG_JSON = "config_json"
CONFIG_PARAMETERS = {CONFIG_JSON: ExecutionParameter(type=str)}


def read_sections(exec_properties: Mapping[str, Any], section_types: Mapping[str, Any]) -> Dict[str, Any]:
    """The typed sections of `config_json`; a missing one is an error, never defaults."""
    return config_core.sections(json.loads(exec_properties[CONFIG_JSON]), section_types)


def run_job(
    executor: base_executor.BaseExecutor, job: Callable[[], None]
) -> Optional[execution_result_pb2.ExecutorOutput]:
    """Run a library job for `executor.Do` (which returns what this returns).

    A `JobError` fails the execution with the job's message: returned as an ExecutorOutput
    where TFX's launcher reads one (local runs), so MLMD records it on the execution and the
    run's error quotes it; raised where the caller ignores returned outputs (the Kubeflow V2
    entrypoint), so the task fails."""
    try:
        job()
    except JobError as exc:
        logging.error("%s", exc)
        context = getattr(executor, "_context", None)
        if context is None or not context.executor_output_uri:
            raise
        return execution_result_pb2.ExecutorOutput(
            execution_result=execution_result_pb2.ExecutionResult(code=exc.exit_code, result_message=str(exc))
        )
    return None


def record_outputs(
    examples: types.Artifact, splits: Sequence[str], summary: Dict[str, Any], counters: Sequence[str]
) -> None:
    """Mark the splits a job wrote and copy its row counts onto the artifact (visible in MLMD)."""
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    for key in counters:
        examples.set_int_custom_property(key, summary[key])
