import os

import tensorflow as tf
import tensorflow_data_validation as tfdv
from apache_beam.options.pipeline_options import PipelineOptions

import schemas
from beam_jobs import build_dataset
from tests.conftest import BEAM_ARGS, beam_test_pipeline


def _anomalies(tfrecord_pattern: str, schema_path: str, stats_path: str):
    # An explicit output path: by default tfdv leaves the statistics in a new /tmp folder.
    stats = tfdv.generate_statistics_from_tfrecord(
        tfrecord_pattern, output_path=stats_path, pipeline_options=PipelineOptions(BEAM_ARGS)
    )
    return tfdv.validate_statistics(stats, tfdv.load_schema_text(schema_path)).anomaly_info


def test_generated_dataset_matches_the_schema(write_config, tmp_path):
    out = str(tmp_path / "out")
    config = write_config({"data": {"languages": ["en", "th"], "home_assistant": {"samples_per_template": 1}}})
    build_dataset.run(["--config", config, "--output_dir", out], test_pipeline=beam_test_pipeline())
    generated = os.path.join(out, "Split-train", "*.gz")
    assert dict(_anomalies(generated, schemas.DATASET_SCHEMA, str(tmp_path / "stats"))) == {}

    # The schema is not vacuous: an example without `intent` and with two `lang`s is flagged.
    bad = tf.train.Example()
    for name in ("id", "text", "group_id", "source", "tokens", "slot_tags"):
        bad.features.feature[name].bytes_list.value.append(b"x")
    bad.features.feature["lang"].bytes_list.value.extend([b"en", b"de"])
    bad_path = str(tmp_path / "bad.tfrecord.gz")
    with tf.io.TFRecordWriter(bad_path, options="GZIP") as writer:
        writer.write(bad.SerializeToString())
    anomalies = _anomalies(bad_path, schemas.DATASET_SCHEMA, str(tmp_path / "bad_stats"))
    assert {"intent", "lang"} <= set(anomalies)


def test_soft_label_schema_reserves_the_teacher_columns():
    schema = tfdv.load_schema_text(schemas.SOFT_LABEL_SCHEMA)
    names = {f.name for f in schema.feature}
    dataset_names = {f.name for f in tfdv.load_schema_text(schemas.DATASET_SCHEMA).feature}
    assert dataset_names < names
    assert {"teacher_intent_logits", "teacher_slot_logits", "augmented", "aug_method"} <= names
