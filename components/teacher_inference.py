"""TeacherInference: soft labels for original + augmented examples, around
`beam_jobs.teacher_inference.build` (Beam RunInference with the Hugging Face teacher); the
logits follow the Transform's label vocabularies."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

from beam_jobs import teacher_inference
from components.jobs import CONFIG_PARAMETERS, read_sections, record_outputs, run_job
from models.preprocessing import label_vocabularies
from models.sections import TEACHER_INFERENCE
from schemas.features import SPLITS


class TeacherInferenceSpec(types.ComponentSpec):
    PARAMETERS = CONFIG_PARAMETERS
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "augmented_examples": ChannelParameter(type=standard_artifacts.Examples),
        "teacher": ChannelParameter(type=standard_artifacts.Model),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {"soft_label_examples": ChannelParameter(type=standard_artifacts.Examples)}


class TeacherInferenceExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> Optional[Any]:
        sections = read_sections(exec_properties, TEACHER_INFERENCE)
        uri = {key: artifact_utils.get_single_instance(artifacts).uri for key, artifacts in input_dict.items()}
        soft = artifact_utils.get_single_instance(output_dict["soft_label_examples"])

        def job() -> None:
            summary = teacher_inference.build(
                self._make_beam_pipeline(),
                sections["teacher.inference"],
                dataset_dir=uri["examples"],
                augmented_dir=uri["augmented_examples"],
                teacher_dir=uri["teacher"],
                output_dir=soft.uri,
                labels=label_vocabularies(uri["transform_graph"]),
            )
            record_outputs(soft, SPLITS, summary, ("rows_in", "rows_out", "dead_lettered"))

        return run_job(self, job)


class TeacherInference(base_beam_component.BaseBeamComponent):
    """Writes `Examples` with the teacher's logits and predictions for every row."""

    SPEC_CLASS = TeacherInferenceSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TeacherInferenceExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        augmented_examples: types.BaseChannel,
        teacher: types.BaseChannel,
        transform_graph: types.BaseChannel,
        config_json: str,
    ):
        super().__init__(
            spec=TeacherInferenceSpec(
                examples=examples,
                augmented_examples=augmented_examples,
                teacher=teacher,
                transform_graph=transform_graph,
                config_json=config_json,
                soft_label_examples=types.Channel(type=standard_artifacts.Examples),
            )
        )
