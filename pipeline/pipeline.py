"""`create_pipeline(config)`: the distillation pipeline as a pure function, for any runner.

DatasetGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator -> AnomaliesGate ->
Transform (label vocabularies) -> TeacherFinetune (or an Importer of a fine-tuned teacher)
-> Augment -> TeacherInference (soft labels) -> Trainer (pQRNN by distillation) ->
Evaluator (fraction of teacher, blessing) -> AtomicPusher.
"""

from __future__ import annotations

from typing import List, Optional, Union

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
from pipeline.config import Config, ConfigError, config_sections, config_to_json
from pipeline.model import fraction_of_teacher

PREPROCESSING_FN = "pipeline.model.preprocessing.preprocessing_fn"
RUN_FN = "pipeline.model.train.run_fn"

# The config sections each component reads. Locally a component gets only these, so changing
# e.g. `student` or `training` re-runs the Trainer and what follows it, not the teacher. (Beam
# components run on the pipeline's Beam arguments, so none of them needs `beam`.)
CONFIG_SECTIONS = {
    "DatasetGen": ("project", "data"),
    "Augment": ("project", "data", "augmentation"),
    "TeacherFinetune": ("project", "data", "teacher.base", "teacher.cache_dir", "teacher.finetune"),
    "TeacherInference": ("project", "data", "teacher.inference"),
    "Trainer": ("project", "data", "student", "distillation", "training"),
}


def create_components(
    config: Config,
    serving_dir: str,
    config_parameter: Optional[data_types.RuntimeParameter] = None,
    dataset_schema: str = schemas.DATASET_SCHEMA,
) -> List[tfx.dsl.components.base.base_node.BaseNode]:
    """`config_parameter`: a runtime parameter carrying the config JSON (Kubeflow), so a run can
    change the config the components read without recompiling; the graph still follows `config`.
    `dataset_schema`: the schema file as the executors see it (inside the image on Kubeflow)."""
    def config_json(component: str) -> Union[str, data_types.RuntimeParameter]:
        return config_to_json(config, CONFIG_SECTIONS[component]) if config_parameter is None else config_parameter

    dataset = DatasetGen(config_json=config_json("DatasetGen"))
    statistics = tfx.components.StatisticsGen(examples=dataset.outputs["examples"])
    schema = tfx.components.ImportSchemaGen(schema_file=dataset_schema)
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"])
    gate = AnomaliesGate(anomalies=validator.outputs["anomalies"])
    transform = tfx.components.Transform(
        examples=dataset.outputs["examples"],
        schema=schema.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"]),
        materialize=False,
    )
    transform.add_upstream_node(gate)
    if config.teacher.finetuned_path:
        teacher = tfx.dsl.Importer(source_uri=config.teacher.finetuned_path, artifact_type=standard_artifacts.Model).with_id(
            "TeacherImporter"
        )
        teacher_model = teacher.outputs["result"]
    else:
        teacher = TeacherFinetune(
            examples=dataset.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            config_json=config_json("TeacherFinetune"),
        )
        teacher_model = teacher.outputs["model"]
    augment = Augment(examples=dataset.outputs["examples"], config_json=config_json("Augment"))
    inference = TeacherInference(
        examples=dataset.outputs["examples"],
        augmented_examples=augment.outputs["augmented_examples"],
        teacher=teacher_model,
        config_json=config_json("TeacherInference"),
    )
    soft_labels = inference.outputs["soft_label_examples"]
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=soft_labels,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        # The config itself is the custom config, so one runtime parameter can carry it too.
        custom_config=config_sections(config, CONFIG_SECTIONS["Trainer"]) if config_parameter is None else config_parameter,
    )
    evaluator = tfx.components.Evaluator(
        examples=soft_labels,
        model=trainer.outputs["model"],
        eval_config=fraction_of_teacher.eval_config(
            config.evaluation.fraction_of_teacher_threshold, config.evaluation.per_language_floor
        ),
        example_splits=["eval"],
    )
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)),
    )
    components = [dataset, statistics, schema, validator, gate, transform, teacher, augment, inference, trainer, evaluator, pusher]
    by_id = {component.id: component for component in components}
    for component_id, profile in config.beam.component_profiles.items():
        component = by_id.get(component_id)
        if not hasattr(component, "with_beam_pipeline_args"):
            beam_ids = ", ".join(i for i, c in by_id.items() if hasattr(c, "with_beam_pipeline_args"))
            raise ConfigError(f"beam.component_profiles.{component_id}", f"not a Beam component of this pipeline ({beam_ids})")
        component.with_beam_pipeline_args(config.beam.profiles[profile])
    return components


def create_pipeline(
    config: Config,
    pipeline_root: str,
    serving_dir: str,
    metadata_connection_config: Optional[object] = None,
    enable_cache: bool = True,
    config_parameter: Optional[data_types.RuntimeParameter] = None,
    dataset_schema: str = schemas.DATASET_SCHEMA,
) -> tfx.dsl.Pipeline:
    """The whole pipeline; the runner (local or Kubeflow) only chooses where it runs."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.project.name,
        pipeline_root=pipeline_root,
        components=create_components(config, serving_dir, config_parameter, dataset_schema),
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_args(),
    )
