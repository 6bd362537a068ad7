"""DatasetGen: an ExampleGen-style component around `beam_jobs.build_dataset.build`."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

from beam_jobs import build_dataset
from components.jobs import CONFIG_PARAMETERS, read_sections, record_outputs, run_job
from models.sections import DATASET, data_config
from schemas.features import SPLITS


class DatasetGenSpec(types.ComponentSpec):
    PARAMETERS = CONFIG_PARAMETERS
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}


class DatasetGenExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> Optional[Any]:
        sections = read_sections(exec_properties, DATASET)
        examples = artifact_utils.get_single_instance(output_dict["examples"])

        def job() -> None:
            summary = build_dataset.build(
                self._make_beam_pipeline(), data_config(sections), sections["project.seed"], examples.uri
            )
            record_outputs(examples, SPLITS, summary, ("rows_in", "rows_out", "dead_lettered"))

        return run_job(self, job)


class DatasetGen(base_beam_component.BaseBeamComponent):
    """Builds the labelled dataset (train/eval/test by template) as an `Examples` artifact."""

    SPEC_CLASS = DatasetGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(DatasetGenExecutor)

    def __init__(self, config_json: str):
        super().__init__(
            spec=DatasetGenSpec(config_json=config_json, examples=types.Channel(type=standard_artifacts.Examples))
        )
