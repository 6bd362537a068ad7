"""Augment: paraphrase-style new training inputs, around `beam_jobs.augment`."""

from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from beam_jobs import augment
from components.job_runner import record_outputs, run_job


class AugmentSpec(types.ComponentSpec):
    PARAMETERS = {"config_json": ExecutionParameter(type=str)}
    INPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"augmented_examples": ChannelParameter(type=standard_artifacts.Examples)}


class AugmentExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        augmented = artifact_utils.get_single_instance(output_dict["augmented_examples"])
        summary = run_job(
            augment.run,
            exec_properties["config_json"],
            ["--dataset_dir", examples.uri, "--output_dir", augmented.uri],
            self._make_beam_pipeline(),
        )
        record_outputs(augmented, ["train"], summary, ("emitted",))


class Augment(base_beam_component.BaseBeamComponent):
    """New unlabelled inputs from the train split, for the teacher to label."""

    SPEC_CLASS = AugmentSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(AugmentExecutor)

    def __init__(self, examples: types.BaseChannel, config_json: str):
        super().__init__(
            spec=AugmentSpec(
                examples=examples, config_json=config_json, augmented_examples=types.Channel(type=standard_artifacts.Examples)
            )
        )
