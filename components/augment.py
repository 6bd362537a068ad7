"""Augment: paraphrase-style new training inputs and the user's unlabelled ones, around
`beam_jobs.augment.build`."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

from beam_jobs import augment
from components.jobs import CONFIG_PARAMETERS, read_sections, record_outputs, run_job
from models.sections import AUGMENT, data_config
from schemas.features import TRAIN


class AugmentSpec(types.ComponentSpec):
    PARAMETERS = CONFIG_PARAMETERS
    INPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"augmented_examples": ChannelParameter(type=standard_artifacts.Examples)}


class AugmentExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> Optional[Any]:
        sections = read_sections(exec_properties, AUGMENT)
        data = data_config(sections)
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        augmented = artifact_utils.get_single_instance(output_dict["augmented_examples"])

        def job() -> None:
            summary = augment.build(
                self._make_beam_pipeline(),
                sections["augmentation"],
                data,
                sections["project.seed"],
                examples.uri,
                augmented.uri,
                sections["teacher.base"],
                sections["teacher.cache_dir"],
            )
            record_outputs(augmented, [TRAIN], summary, ("emitted",))

        return run_job(self, job)


class Augment(base_beam_component.BaseBeamComponent):
    """New unlabelled inputs for the teacher to label: augmentations of the train split and
    the rows of `data.unlabeled`."""

    SPEC_CLASS = AugmentSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(AugmentExecutor)

    def __init__(self, examples: types.BaseChannel, config_json: str):
        super().__init__(
            spec=AugmentSpec(
                examples=examples,
                config_json=config_json,
                augmented_examples=types.Channel(type=standard_artifacts.Examples),
            )
        )
