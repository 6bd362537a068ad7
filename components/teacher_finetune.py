"""TeacherFinetune: fine-tune the joint intent + slot teacher, around `teacher.finetune.train`.

The label order is the Transform's vocabularies, so teacher logits line up with the
student's classes. When `teacher.finetuned_path` is set the pipeline uses an `Importer`
instead of this component.
"""

from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

from components.jobs import CONFIG_PARAMETERS, read_sections
from models.preprocessing import label_vocabularies
from models.sections import TEACHER_FINETUNE


class TeacherFinetuneSpec(types.ComponentSpec):
    PARAMETERS = CONFIG_PARAMETERS
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {"model": ChannelParameter(type=standard_artifacts.Model)}


class TeacherFinetuneExecutor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        # torch and transformers load only in this executor's process.
        from teacher.bases import resolve_base
        from teacher.finetune import train

        sections = read_sections(exec_properties, TEACHER_FINETUNE)
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        labels = label_vocabularies(artifact_utils.get_single_instance(input_dict["transform_graph"]).uri)
        model = artifact_utils.get_single_instance(output_dict["model"])
        base_dir = resolve_base(sections["teacher.base"], sections["teacher.cache_dir"])
        train(
            base_dir,
            examples.uri,
            model.uri,
            sections["teacher.finetune"],
            seed=sections["project.seed"],
            labels=labels,
        )


class TeacherFinetune(base_component.BaseComponent):
    """Fine-tunes `teacher.base` on the train split into a `Model` artifact."""

    SPEC_CLASS = TeacherFinetuneSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TeacherFinetuneExecutor)

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel, config_json: str):
        super().__init__(
            spec=TeacherFinetuneSpec(
                examples=examples,
                transform_graph=transform_graph,
                config_json=config_json,
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
