"""Shared test set-up: small configs on tmp paths, in-process Beam pipelines and tiny `Examples`
folders (the environment, legacy Keras and quiet TF, is set in tests/__init__.py)."""

import dataclasses
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


# The test files that use the shared tiny runs (`tiny_runs`): one pytest-xdist worker runs them
# all, so the runs happen once (`pytest_collection_modifyitems` checks that the list is whole).
TINY_RUNS_FILES = {
    "tests/pipeline/test_pipeline_e2e.py",
    "tests/review/test_report.py",
    "tests/pipeline/kubeflow/test_kfp_local.py",
}


def pytest_collection_modifyitems(items):
    """The shared runs' files first (the longest share of one worker's work starts first)."""
    for item in items:
        path = item.nodeid.split("::")[0]
        if "tiny_runs" in getattr(item, "fixturenames", ()) and path not in TINY_RUNS_FILES:
            raise pytest.UsageError(f"{path} uses tiny_runs: add it to TINY_RUNS_FILES in tests/conftest.py")
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in TINY_RUNS_FILES)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test` runs on two pytest-xdist workers (most tests keep one core busy). Each test file
    goes to one worker, so its module fixtures are built once, and the files of the shared tiny
    runs all go to the same worker. (xdist's own `--dist loadgroup` does not group under pytest 9:
    it renames `item._nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileAndSharedRunsScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return "tiny_runs" if path in TINY_RUNS_FILES else path

    return FileAndSharedRunsScheduling(config, log)


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


TINY_TEACHER_STEPS = 300  # enough for the tiny teacher to get rows right: its fraction is defined


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
                "max_steps": TINY_TEACHER_STEPS,
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


@pytest.fixture(scope="session")
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


def metadata_store(config):
    """The config's MLMD store, opened directly (independently of the report and summary code)."""
    import ml_metadata as mlmd
    from tfx import v1 as tfx

    from pipeline.local_runner import run_paths

    return mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(run_paths(config).metadata_path)
    )


def last_run(config):
    """The latest run in the config's MLMD store: its id and {component: execution state}."""
    import ml_metadata as mlmd

    store = metadata_store(config)
    run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    types = {t.id: t.name for t in store.get_execution_types()}
    executions = {}
    for execution in store.get_executions_by_context(run.id):
        state = mlmd.proto.Execution.State.Name(execution.last_known_state)
        executions[types[execution.type_id].rsplit(".", 1)[-1]] = state
    return run.name, executions


def latest_artifact(config, type_name):
    """The newest artifact of a type in the config's MLMD store."""
    return max(metadata_store(config).get_artifacts_by_type(type_name), key=lambda a: a.id)


@dataclasses.dataclass
class TinyRun:
    """One LocalDagRunner run of the shared tiny pipeline: what the tests assert on, captured
    right after it ran (later runs change what is "latest" in the store)."""

    config: object
    run_id: str
    executions: dict
    summary: object = None
    serving_versions: list = None
    error: str = None


@pytest.fixture(scope="session")
def tiny_runs(tiny):
    """The whole-pipeline runs every end-to-end test shares, in one MLMD store (LocalDagRunner
    on tiny data, a tiny teacher and student), in this order:

    - `failed`: a data file with a row over the schema's token limit: the run stops at the
      schema gate.
    - `full`: every component runs; the student is blessed and pushed.
    - `cached`: the same config again; every stage comes from the cache.

    Also `evaluation` / `blessing`: `full`'s Evaluator output artifacts (MLMD), and `tmp`: the
    folder of the tiny base and of `pipeline.yaml`, whose work dir holds the store; `finished`:
    runs a config into the store and captures its `TinyRun`; `left_in_tempdir`: what the three
    runs left in Python's temp dir (pointed at an empty folder while they ran)."""
    from pipeline.local_runner import python_tempdir, run_local, summarize

    def serving_versions(config):
        serving = config.push.serving_dir
        return sorted(os.listdir(serving)) if os.path.isdir(serving) else []

    def finished(config):
        run_local(config)
        return TinyRun(config, *last_run(config), summarize(config), serving_versions(config))

    runs = {}
    tempdir = tiny / "tempdir"
    tempdir.mkdir()
    with python_tempdir(str(tempdir)):
        rows = tiny / "rows_over_the_token_limit.jsonl"
        good = "".join(f'{{"text": "turn on light number {i}", "intent": "on"}}\n' for i in range(20))
        rows.write_text(good + '{"text": "' + " ".join(["very"] * 80) + ' long", "intent": "on"}\n')
        failing = tiny_config(tiny, ["data.source=jsonl", f"data.paths=[{rows}]", "data.max_tokens=200"])
        with pytest.raises(RuntimeError, match="schema anomalies") as err:
            run_local(failing)
        runs["failed"] = TinyRun(failing, *last_run(failing), error=str(err.value))
        full = tiny_config(tiny)
        runs["full"] = finished(full)
        evaluation = latest_artifact(full, "ModelEvaluation")
        blessing = latest_artifact(full, "ModelBlessing")
        runs["cached"] = finished(full)
    left = sorted(os.listdir(tempdir))
    return {
        **runs,
        "evaluation": evaluation,
        "blessing": blessing,
        "tmp": tiny,
        "finished": finished,
        "left_in_tempdir": left,
    }


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
