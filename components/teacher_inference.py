"""TeacherInference: soft labels for original + augmented examples, around
`beam_jobs.teacher_inference` (Beam RunInference with the Hugging Face teacher)."""

from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from beam_jobs import teacher_inference
from beam_jobs.dataset.rows import SPLITS
from components.job_runner import record_outputs, run_job


class TeacherInferenceSpec(types.ComponentSpec):
    PARAMETERS = {"config_json": ExecutionParameter(type=str)}
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "augmented_examples": ChannelParameter(type=standard_artifacts.Examples),
        "teacher": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {"soft_label_examples": ChannelParameter(type=standard_artifacts.Examples)}


class TeacherInferenceExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        uri = lambda key: artifact_utils.get_single_instance(input_dict[key]).uri  # noqa: E731
        soft = artifact_utils.get_single_instance(output_dict["soft_label_examples"])
        summary = run_job(
            teacher_inference.run,
            exec_properties["config_json"],
            ["--dataset_dir", uri("examples"), "--augmented_dir", uri("augmented_examples"),
             "--teacher_dir", uri("teacher"), "--output_dir", soft.uri],
            self._make_beam_pipeline(),
        )
        record_outputs(soft, SPLITS, summary, ("rows_in", "rows_out", "dead_lettered"))


class TeacherInference(base_beam_component.BaseBeamComponent):
    """Writes `Examples` with the teacher's logits and predictions for every row."""

    SPEC_CLASS = TeacherInferenceSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TeacherInferenceExecutor)

    def __init__(self, examples: types.BaseChannel, augmented_examples: types.BaseChannel, teacher: types.BaseChannel,
                 config_json: str):
        super().__init__(
            spec=TeacherInferenceSpec(
                examples=examples, augmented_examples=augmented_examples, teacher=teacher, config_json=config_json,
                soft_label_examples=types.Channel(type=standard_artifacts.Examples),
            )
        )
