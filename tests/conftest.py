"""Shared test set-up: small configs on tmp paths, in-process Beam pipelines and tiny `Examples`
folders (the environment, legacy Keras and quiet TF, is set in tests/__init__.py)."""

import os
import pathlib

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def write_config(tmp_path):
    """Write a pipeline.yaml holding only the given sections (defaults fill the rest)."""

    def write(sections: dict, name: str = "pipeline.yaml") -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(sections, allow_unicode=True), encoding="utf-8")
        return str(path)

    return write


# The components of the embedded-default pipeline (create_pipeline), by id.
PIPELINE_COMPONENTS = {
    "DatasetGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomaliesGate",
    "Transform",
    "TeacherFinetune",
    "Augment",
    "TeacherInference",
    "Trainer",
    "Evaluator",
    "AtomicPusher",
}

BEAM_ARGS = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]


def beam_test_pipeline():
    """An in-process Beam pipeline for a job's `test_pipeline`."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.test_pipeline import TestPipeline

    return TestPipeline(options=PipelineOptions(BEAM_ARGS), blocking=True)


def example_row(i, text, intent, tags, split, lang="en"):
    """A dataset row whose id names its split (`t:<split>:<i>`), for `write_examples`."""
    from tokenization import words

    return {
        "id": f"t:{split}:{i}",
        "lang": lang,
        "text": text,
        "tokens": words(text),
        "intent": intent,
        "slot_tags": tags,
        "group_id": f"g:{split}:{i}",
        "source": "test",
    }


def write_examples(root, rows):
    """Rows as an `Examples` folder (`Split-*/data_tfrecord-*.gz`), split by their ids."""
    import tensorflow as tf

    from schemas.examples import encode
    from schemas.features import SPLITS, split_dir

    for split in SPLITS:
        os.makedirs(split_dir(str(root), split), exist_ok=True)
        path = os.path.join(split_dir(str(root), split), "data_tfrecord-00000-of-00001.gz")
        with tf.io.TFRecordWriter(path, "GZIP") as writer:
            for row in rows:
                if row["id"].split(":")[1] == split:
                    writer.write(encode(row))


def tiny_sections(tmp):
    """A whole pipeline.yaml for the tiny end-to-end runs (one language, tiny teacher and student)."""
    return {
        "project": {"work_dir": str(tmp / "work")},
        "data": {"languages": ["en"], "home_assistant": {"samples_per_template": 1}},
        "augmentation": {
            "min_train_rows": 0,
            "slot_resample": 0.3,
            "word_dropout": 0.2,
            "word_swap": 0.0,
            "char_distortion": 0.0,
        },
        "teacher": {
            "base": str(tmp / "base"),
            "finetune": {
                "max_steps": 1000,
                "eval_every_steps": 125,
                "learning_rate": 2e-3,
                "max_length": 32,
                "freeze_word_embeddings": False,
            },
        },
        "student": {
            "projection": {"feature_size": 64},
            "bottleneck_size": 32,
            "qrnn": {"state_size": 32, "num_layers": 1},
            "max_tokens": 32,
        },
        "training": {"epochs": 2, "batch_size": 64},
        # Gates off: the tiny runs test the machinery, not the tiny teacher's or student's quality.
        "evaluation": {
            "fraction_of_teacher_threshold": 0.0,
            "per_language_floor": None,
            "teacher_min_exact_match": None,
        },
        "push": {"serving_dir": str(tmp / "serving")},
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with a tiny random teacher base whose WordPiece vocabulary comes from the
    English templates, so it can learn the task in seconds."""
    from beam_jobs.dataset import home_assistant as ha
    from teacher.tiny import make_tiny_base

    tmp = tmp_path_factory.mktemp("e2e")
    values = ha.load_value_lists("builtin")
    templates, _ = ha.list_templates(["en"], values)
    corpus = [u.text for t in templates for u in ha.sample_template(t, 2, 0, values)]
    make_tiny_base(str(tmp / "base"), corpus, vocab_size=1500, hidden_size=64)
    return tmp


def tiny_config(tiny, overrides=()):
    """The loaded tiny pipeline config with `key=value` overrides."""
    from pipeline.config import load_config

    path = tiny / "pipeline.yaml"
    path.write_text(yaml.safe_dump(tiny_sections(tiny)))
    return load_config(str(path), list(overrides))


def read_dataset_rows(root, splits=("train", "eval", "test")):
    """The rows of an `Examples` folder as {feature: [values]} dicts, each with its `_split`."""
    import glob

    import tensorflow as tf

    from schemas.examples import decode
    from schemas.features import split_file_pattern

    rows = []
    for split in splits:
        files = glob.glob(split_file_pattern(str(root), split))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            rows.append({**decode(record.numpy()), "_split": split})
    return rows


def read_dead_letters(root):
    """The dead-letter records under `root/dead_letter/`."""
    import json

    files = sorted((pathlib.Path(root) / "dead_letter").glob("*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").split("\n") if line]
