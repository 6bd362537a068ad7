"""`create_pipeline(config)`: the distillation pipeline as a pure function, for any runner.

DatasetGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator -> AnomaliesGate ->
Transform (label vocabularies) -> TeacherFinetune (or an Importer of a fine-tuned teacher)
-> Augment -> TeacherInference (soft labels) -> Trainer (pQRNN by distillation) ->
Evaluator (fraction of teacher, blessing) -> AtomicPusher.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union

from tfx import v1 as tfx
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

import schemas
from components.anomalies_gate import AnomaliesGate
from components.atomic_pusher import AtomicPusher
from components.augment import Augment
from components.dataset_gen import DatasetGen
from components.teacher_finetune import TeacherFinetune
from components.teacher_inference import TeacherInference
from models import fraction_of_teacher, sections
from pipeline.config import Config, ConfigError, config_sections, config_to_json
from schemas.features import EVAL, TEST, TRAIN

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.train.run_fn"


def create_components(
    config: Config,
    serving_dir: str,
    config_parameters: Optional[Mapping[str, data_types.RuntimeParameter]] = None,
    dataset_schema: str = schemas.DATASET_SCHEMA,
) -> List[tfx.dsl.components.base.base_node.BaseNode]:
    """`config_parameters`: component id -> a runtime parameter carrying that component's config
    sections as JSON (Kubeflow), so a run can change what a component reads without recompiling;
    the graph still follows `config`. `dataset_schema`: the schema file as the executors see it
    (inside the image on Kubeflow)."""

    # A component gets only the sections it reads (`models.sections`), locally as a value and on
    # Kubeflow as its own run parameter, so changing e.g. `student` re-runs the Trainer and what
    # follows it, not the teacher.
    def config_json(component_id: str, section_types: Dict[str, Any]) -> Union[str, data_types.RuntimeParameter]:
        if config_parameters is None:
            return config_to_json(config, list(section_types))
        return config_parameters[component_id]

    dataset = DatasetGen(config_json=config_json("DatasetGen", sections.DATASET))
    statistics = tfx.components.StatisticsGen(examples=dataset.outputs["examples"])
    schema = tfx.components.ImportSchemaGen(schema_file=dataset_schema)
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"]
    )
    gate = AnomaliesGate(anomalies=validator.outputs["anomalies"])
    transform = tfx.components.Transform(
        examples=dataset.outputs["examples"],
        schema=schema.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN]),
        materialize=False,
    )
    transform.add_upstream_node(gate)
    if config.teacher.finetuned_path:
        teacher = tfx.dsl.Importer(
            source_uri=config.teacher.finetuned_path, artifact_type=standard_artifacts.Model
        ).with_id("TeacherImporter")
        teacher_model = teacher.outputs["result"]
    else:
        teacher = TeacherFinetune(
            examples=dataset.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            config_json=config_json("TeacherFinetune", sections.TEACHER_FINETUNE),
        )
        teacher_model = teacher.outputs["model"]
    augment = Augment(examples=dataset.outputs["examples"], config_json=config_json("Augment", sections.AUGMENT))
    inference = TeacherInference(
        examples=dataset.outputs["examples"],
        augmented_examples=augment.outputs["augmented_examples"],
        teacher=teacher_model,
        transform_graph=transform.outputs["transform_graph"],
        config_json=config_json("TeacherInference", sections.TEACHER_INFERENCE),
    )
    soft_labels = inference.outputs["soft_label_examples"]
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=soft_labels,
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(splits=[TRAIN]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL]),
        # The sections themselves are the custom config, so a runtime parameter can carry them too.
        custom_config=(
            config_sections(config, list(sections.TRAINER))
            if config_parameters is None
            else config_parameters["Trainer"]
        ),
    )
    evaluation = config.evaluation
    evaluator = tfx.components.Evaluator(
        examples=soft_labels,
        model=trainer.outputs["model"],
        eval_config=fraction_of_teacher.eval_config(
            evaluation.fraction_of_teacher_threshold,
            evaluation.per_language_floor,
            fraction_of_teacher.GateRule(
                evaluation.gate, evaluation.min_slice_examples, evaluation.bootstrap_samples, config.project.seed
            ),
            evaluation.teacher_min_exact_match,
        ),
        # The untouched split: training validates and selects on eval, the gate judges test.
        example_splits=[TEST],
    )
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    )
    components = [
        dataset,
        statistics,
        schema,
        validator,
        gate,
        transform,
        teacher,
        augment,
        inference,
        trainer,
        evaluator,
        pusher,
    ]
    by_id = {component.id: component for component in components}
    for component_id, profile in config.beam.component_profiles.items():
        component = by_id.get(component_id)
        if not hasattr(component, "with_beam_pipeline_args"):
            beam_ids = ", ".join(i for i, c in by_id.items() if hasattr(c, "with_beam_pipeline_args"))
            raise ConfigError(
                f"beam.component_profiles.{component_id}", f"not a Beam component of this pipeline ({beam_ids})"
            )
        component.with_beam_pipeline_args(config.beam.profiles[profile])
    return components


def create_pipeline(
    config: Config,
    pipeline_root: str,
    serving_dir: str,
    metadata_connection_config: Optional[object] = None,
    enable_cache: bool = True,
    config_parameters: Optional[Mapping[str, data_types.RuntimeParameter]] = None,
    dataset_schema: str = schemas.DATASET_SCHEMA,
) -> tfx.dsl.Pipeline:
    """The whole pipeline; the runner (local or Kubeflow) only chooses where it runs."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.project.name,
        pipeline_root=pipeline_root,
        components=create_components(config, serving_dir, config_parameters, dataset_schema),
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam.args(),
    )
