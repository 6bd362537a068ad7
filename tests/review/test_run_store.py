"""The run-store reader and the end-of-run summary on a small MLMD store written by hand the way
TFX records runs (pipeline / pipeline_run / node contexts, executions, artifacts linked by
events), with a hand-written TFMA evaluation: no pipeline run needed."""

import os

import ml_metadata as mlmd
import pytest
import tensorflow as tf
from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2 as pb
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2

from models import fraction_of_teacher
from review.run_store import RunStoreError, cache_source, list_runs, load_run, open_store, read_run
from review.summary import format_summary, summarize
from schemas.features import HEADLINE, TFLITE_DIR, TFLITE_FILE

PIPELINE = "pqrnn-distill"
TEACHER_WEIGHTS = 3_000_000
STUDENT_TFLITE = 60_000


class StoreWriter:
    """Writes contexts, executions and artifacts as TFX's launcher does."""

    def __init__(self, path: str):
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = mlmd.MetadataStore(config)
        self.types = {}
        self.contexts = {}

    def _type(self, kind: str, name: str) -> int:
        if (kind, name) not in self.types:
            put = {
                "context": (self.store.put_context_type, pb.ContextType),
                "execution": (self.store.put_execution_type, pb.ExecutionType),
                "artifact": (self.store.put_artifact_type, pb.ArtifactType),
            }[kind]
            self.types[kind, name] = put[0](put[1](name=name))
        return self.types[kind, name]

    def context(self, type_name: str, name: str, parent: int = 0) -> int:
        if (type_name, name) not in self.contexts:
            [context_id] = self.store.put_contexts([pb.Context(type_id=self._type("context", type_name), name=name)])
            if parent:
                self.store.put_parent_contexts([pb.ParentContext(parent_id=parent, child_id=context_id)])
            self.contexts[type_name, name] = context_id
        return self.contexts[type_name, name]

    def run(self, pipeline: str, run_id: str) -> int:
        return self.context("pipeline_run", run_id, parent=self.context("pipeline", pipeline))

    def execute(
        self,
        pipeline: str,
        run: int,
        component: str,
        inputs=None,
        outputs=None,
        state=pb.Execution.COMPLETE,
        reused=None,
    ):
        """One execution of `component` in `run`: `inputs` {key: artifact id}; `outputs` {key: (type,
        uri, properties)} are new artifacts, `reused` {key: artifact id} existing ones (a cache hit)."""
        execution = pb.Execution(type_id=self._type("execution", f"components.{component}"), last_known_state=state)
        pairs = []
        for kind, existing in ((pb.Event.INPUT, inputs or {}), (pb.Event.OUTPUT, reused or {})):
            for key, artifact_id in existing.items():
                pairs.append((self.store.get_artifacts_by_id([artifact_id])[0], self._event(kind, key)))
        for key, (type_name, uri, properties) in (outputs or {}).items():
            artifact = pb.Artifact(type_id=self._type("artifact", type_name), uri=uri, state=pb.Artifact.LIVE)
            for name, value in properties.items():
                field = "int_value" if isinstance(value, int) else "string_value"
                setattr(artifact.custom_properties[name], field, value)
            pairs.append((artifact, self._event(pb.Event.OUTPUT, key)))
        ids = [self.context("pipeline", pipeline), run, self.context("node", f"{pipeline}.{component}")]
        contexts = self.store.get_contexts_by_id(ids)
        execution_id, artifact_ids, _ = self.store.put_execution(execution, pairs, contexts)
        keys = [key for key in (inputs or {})] + [key for key in (reused or {})] + list(outputs or {})
        return execution_id, dict(zip(keys, artifact_ids))

    @staticmethod
    def _event(kind: int, key: str) -> pb.Event:
        event = pb.Event(type=kind)
        event.path.steps.add().key = key
        event.path.steps.add().index = 0
        return event


def write_evaluation(uri: str, threshold: float, slices: dict) -> None:
    """A TFMA output folder: eval config (with the gate), metrics by slice, validation result."""
    os.makedirs(uri)
    run = config_pb2.EvalRun(eval_config=fraction_of_teacher.eval_config(threshold, None), version="0.46.0")
    with open(os.path.join(uri, "eval_config.json"), "w") as f:
        f.write(json_format.MessageToJson(run))
    with tf.io.TFRecordWriter(os.path.join(uri, "metrics-00000-of-00001.tfrecord")) as writer:
        for lang, values in slices.items():
            record = metrics_for_slice_pb2.MetricsForSlice()
            if lang:
                record.slice_key.single_slice_keys.add(column="lang", bytes_value=lang.encode())
            for name, value in values.items():
                kv = record.metric_keys_and_values.add()
                kv.key.name = name
                kv.value.double_value.value = value
            writer.write(record.SerializeToString())
    with tf.io.TFRecordWriter(os.path.join(uri, "validations-00000-of-00001.tfrecord")) as writer:
        writer.write(validation_result_pb2.ValidationResult(validation_ok=True).SerializeToString())


def _file(path, size: int) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\0" * size)
    return str(path)


def _metrics(teacher: float, student: float, examples: int) -> dict:
    ratio = student / teacher
    return {
        "eval_examples": examples,
        "teacher_exact_match": teacher,
        "student_exact_match": student,
        HEADLINE: ratio,
        f"{HEADLINE}_lower": ratio - 0.05,
        f"{HEADLINE}_upper": ratio + 0.04,
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Run 1 (fine-tuned teacher, not blessed), run 2 (imported teacher, blessed and pushed, its
    dataset from run 1's cache), then a newer run of another pipeline."""
    tmp = tmp_path_factory.mktemp("store")
    path = str(tmp / "metadata" / "metadata.sqlite")
    os.makedirs(os.path.dirname(path))
    w = StoreWriter(path)

    run1 = w.run(PIPELINE, "2026-01-01T00:00:00.000001")
    _, data = w.execute(PIPELINE, run1, "DatasetGen", outputs={"examples": ("Examples", str(tmp / "data1"), {})})
    _, teacher1 = w.execute(PIPELINE, run1, "TeacherFinetune", outputs={"model": ("Model", str(tmp / "teacher1"), {})})
    _, student1 = w.execute(PIPELINE, run1, "Trainer", outputs={"model": ("Model", str(tmp / "student1"), {})})
    w.execute(
        PIPELINE,
        run1,
        "Evaluator",
        inputs={"model": student1["model"]},
        outputs={"blessing": ("ModelBlessing", str(tmp / "blessing1"), {"blessed": 0})},
    )
    w.execute(
        PIPELINE,
        run1,
        "AtomicPusher",
        inputs={"model": student1["model"]},
        outputs={"pushed_model": ("PushedModel", str(tmp / "pushed1"), {"pushed": 0})},
    )

    run2 = w.run(PIPELINE, "2026-01-02T00:00:00.000002")
    w.execute(PIPELINE, run2, "DatasetGen", reused={"examples": data["examples"]}, state=pb.Execution.CACHED)
    # The teacher's folder holds a stray .tflite file: the reader must not take it for the student.
    teacher_dir = str(tmp / "finetuned_teacher")
    _file(os.path.join(teacher_dir, "model.safetensors"), TEACHER_WEIGHTS)
    _file(os.path.join(teacher_dir, "old_export.tflite"), 10)
    _, teacher = w.execute(PIPELINE, run2, "TeacherImporter", outputs={"result": ("Model", teacher_dir, {})})
    w.execute(
        PIPELINE,
        run2,
        "TeacherInference",
        inputs={"teacher": teacher["result"]},
        outputs={"soft_label_examples": ("Examples", str(tmp / "soft2"), {})},
    )
    student_dir = str(tmp / "student2")
    _file(os.path.join(student_dir, "Format-Serving", TFLITE_DIR, TFLITE_FILE), STUDENT_TFLITE)
    _, student = w.execute(PIPELINE, run2, "Trainer", outputs={"model": ("Model", student_dir, {})})
    evaluation = str(tmp / "evaluation2")
    write_evaluation(
        evaluation,
        0.9,
        {"": _metrics(0.8, 0.76, 150), "en": _metrics(0.9, 0.9, 100), "de": _metrics(0.7, 0.63, 50)},
    )
    w.execute(
        PIPELINE,
        run2,
        "Evaluator",
        inputs={"model": student["model"]},
        outputs={
            "evaluation": ("ModelEvaluation", evaluation, {}),
            "blessing": ("ModelBlessing", str(tmp / "blessing2"), {"blessed": 1}),
        },
    )
    w.execute(
        PIPELINE,
        run2,
        "AtomicPusher",
        inputs={"model": student["model"]},
        outputs={
            "pushed_model": (
                "PushedModel",
                str(tmp / "pushed2"),
                {"pushed": 1, "pushed_destination": "/serving/1767312000"},
            )
        },
    )

    other = w.run("another-pipeline", "2026-01-03T00:00:00.000003")
    w.execute("another-pipeline", other, "Trainer", outputs={"model": ("Model", str(tmp / "other"), {})})
    return {
        "path": path,
        "teacher1": teacher1["model"],
        "teacher_dir": teacher_dir,
        "student_dir": student_dir,
    }


def test_latest_run_is_that_of_the_named_pipeline(store):
    run = read_run(store["path"], PIPELINE)
    assert run.id == "2026-01-02T00:00:00.000002" and run.pipeline == PIPELINE
    assert [r.name for r in list_runs(open_store(store["path"]), PIPELINE)] == [
        "2026-01-01T00:00:00.000001",
        "2026-01-02T00:00:00.000002",
    ]
    assert [e.component for e in run.executions] == [
        "DatasetGen",
        "TeacherImporter",
        "TeacherInference",
        "Trainer",
        "Evaluator",
        "AtomicPusher",
    ]
    # Registered by run 1, never reached by run 2.
    assert run.not_reached == ["TeacherFinetune"]
    assert read_run(store["path"], PIPELINE, "2026-01-01T00:00:00.000001").blessed() is False


def test_models_are_found_by_their_producer(store):
    run = read_run(store["path"], PIPELINE)
    assert run.student_model().uri == store["student_dir"] and run.student_model().producer == "Trainer"
    assert run.teacher_model().uri == store["teacher_dir"] and run.teacher_model().producer == "TeacherImporter"
    first = read_run(store["path"], PIPELINE, "2026-01-01T00:00:00.000001")
    assert first.teacher_model().id == store["teacher1"] and first.teacher_model().producer == "TeacherFinetune"
    assert run.artifact("TeacherInference", "teacher", "inputs").uri == store["teacher_dir"]


def test_blessing_and_pushed_destination(store):
    run = read_run(store["path"], PIPELINE)
    assert run.blessed() and run.pushed_to() == "/serving/1767312000"
    first = read_run(store["path"], PIPELINE, "2026-01-01T00:00:00.000001")
    assert not first.blessed() and first.pushed_to() is None


def test_a_cached_stage_is_timed_by_the_execution_that_ran_it(store):
    db = open_store(store["path"])
    first, second = (load_run(db, store["path"], PIPELINE, r) for r in ("2026-01-01T00:00:00.000001", "latest"))
    cached = second.execution("DatasetGen")
    assert cached.state == "CACHED" and cached.outputs["examples"] == first.execution("DatasetGen").outputs["examples"]
    source = cache_source(db, cached)
    assert source.id == first.execution("DatasetGen").id and source.state == "COMPLETE"
    assert cache_source(db, second.execution("Trainer")) is None


def test_summary_of_the_latest_run(store):
    summary = summarize(store["path"], PIPELINE)
    assert summary.run_id == "2026-01-02T00:00:00.000002"
    assert summary.blessed and summary.threshold == pytest.approx(0.9)
    assert summary.pushed_to == "/serving/1767312000"
    assert summary.teacher_bytes == TEACHER_WEIGHTS and summary.student_int8_bytes == STUDENT_TFLITE
    assert set(summary.per_language) == {"en", "de"} and summary.overall[HEADLINE] == pytest.approx(0.95)
    assert format_summary(summary).split("\n") == [
        "",
        "eval split: fraction of teacher = student exact match / teacher exact match, "
        "with its 95 % interval (paired bootstrap over examples)",
        "language   examples   teacher EM   student EM   fraction of teacher   95 % interval",
        "de               50        0.700        0.630                 0.900   0.850-0.940  too few to judge",
        "en              100        0.900        0.900                 1.000   0.950-1.040",
        "all             150        0.800        0.760                 0.950   0.900-0.990",
        "mean fraction of teacher over languages: 0.950",
        "size: teacher fp32 3.0 MB, student int8 0.06 MB -> 50x smaller",
        f"BLESSED (threshold 0.9 on overall {HEADLINE})",
        "pushed to: /serving/1767312000",
    ]


def test_summary_of_a_run_without_evaluation(store):
    summary = summarize(store["path"], PIPELINE, "2026-01-01T00:00:00.000001")
    assert not summary.blessed and summary.threshold is None and summary.overall == {}
    assert summary.pushed_to is None and summary.student_int8_bytes == 0
    assert format_summary(summary).endswith("NOT BLESSED (the run has no evaluation)\nnot pushed")


def test_errors_name_the_store_and_the_runs(store, tmp_path):
    missing = str(tmp_path / "metadata.sqlite")
    with pytest.raises(RunStoreError, match="no pipeline run: there is no metadata store at"):
        read_run(missing, PIPELINE)
    with pytest.raises(
        RunStoreError, match=r"no pipeline run of 'nope' .* it holds runs of another-pipeline, pqrnn-distill"
    ):
        read_run(store["path"], "nope")
    with pytest.raises(RunStoreError, match=r"no run '1999' of 'pqrnn-distill' .* latest runs: 2026-01-01"):
        read_run(store["path"], PIPELINE, "1999")
