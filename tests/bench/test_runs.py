"""bench.runs records a finished local run from its MLMD store (no pipeline run needed: a store
written by hand as TFX writes one), and bench.real reads the store where its run puts it."""

import json
import os

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from bench import real, runs
from schemas.features import HEADLINE, STUDENT_STOPPING_FILE, TEACHER_METRICS_FILE, TFLITE_DIR, TFLITE_FILE
from tests.review.test_run_store import StoreWriter, _file, _metrics, write_evaluation

PIPELINE = "pqrnn-distill"
RUN = "2026-01-02T00:00:00.000002"


def _write_run(work_dir):
    """A finished run in `work_dir` (LocalDagRunner's layout): DatasetGen from the cache of an
    earlier run, a fine-tuned teacher with its metrics, a Trainer with its stopping file, an
    evaluation with two languages, a push."""
    metadata = os.path.join(work_dir, "metadata", "metadata.sqlite")
    os.makedirs(os.path.dirname(metadata))
    w = StoreWriter(metadata)
    first = w.run(PIPELINE, "2026-01-01T00:00:00.000001")
    _, data = w.execute(PIPELINE, first, "DatasetGen", outputs={"examples": ("Examples", f"{work_dir}/data", {})})
    run = w.run(PIPELINE, RUN)
    w.execute(PIPELINE, run, "DatasetGen", reused={"examples": data["examples"]}, state=pb.Execution.CACHED)
    teacher_dir = os.path.join(work_dir, "teacher")
    _file(os.path.join(teacher_dir, "model.safetensors"), 3_000_000)
    with open(os.path.join(teacher_dir, TEACHER_METRICS_FILE), "w") as f:
        json.dump(
            {
                "eval": {"all": {"exact_match": 0.81}},
                "stopped": {"best_step": 750, "best_epoch": 2.0, "last_step": 1500, "reason": "patience"},
                "train_rows_left_out": {"too_long": ["a", "b"]},
                "eval_rows_cut": ["c"],
            },
            f,
        )
    w.execute(PIPELINE, run, "TeacherFinetune", outputs={"model": ("Model", teacher_dir, {})})
    student_dir, logs = os.path.join(work_dir, "student"), os.path.join(work_dir, "model_run")
    _file(os.path.join(student_dir, "Format-Serving", TFLITE_DIR, TFLITE_FILE), 60_000)
    os.makedirs(logs)
    with open(os.path.join(logs, STUDENT_STOPPING_FILE), "w") as f:
        json.dump(
            {"kept_epoch": 2, "epochs_run": 3, "reason": "plateau", "eval_exact_match_per_epoch": [0.7, 0.8, 0.75]}, f
        )
    _, student = w.execute(
        PIPELINE,
        run,
        "Trainer",
        outputs={"model": ("Model", student_dir, {}), "model_run": ("ModelRun", logs, {})},
    )
    evaluation = os.path.join(work_dir, "evaluation")
    write_evaluation(
        evaluation, 0.9, {"": _metrics(0.8, 0.76, 150), "en": _metrics(0.9, 0.9, 100), "de": _metrics(0.7, 0.63, 50)}
    )
    w.execute(
        PIPELINE,
        run,
        "Evaluator",
        inputs={"model": student["model"]},
        outputs={
            "evaluation": ("ModelEvaluation", evaluation, {}),
            "blessing": ("ModelBlessing", os.path.join(work_dir, "blessing"), {"blessed": 1}),
        },
    )
    return metadata


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    _write_run(str(tmp / "runs"))
    config = tmp / "pipeline.yaml"
    config.write_text("project: {work_dir: runs}\n", encoding="utf-8")
    output = tmp / "runs.jsonl"
    argv = ["--config", str(config), "--minutes", "22.9", "--checkout", "fresh clone", "--output", str(output)]
    assert runs.main(argv) == 0
    [row] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return tmp, row


def test_the_record_holds_the_runs_verdict_per_language_and_where_it_was_measured(recorded):
    _, row = recorded
    assert row["name"] == "embedded-default" and row["command"] == "make run" and row["checkout"] == "fresh clone"
    assert row["run"] == RUN and row["minutes"] == 22.9 and row["blessed"] is True
    assert row["scored_split_rows"] == 150
    assert row["fraction_of_teacher"] == pytest.approx(0.95)
    assert row["fraction_of_teacher_interval"] == pytest.approx([0.9, 0.99])
    assert row["fraction_of_teacher_by_language"] == pytest.approx({"de": 0.9, "en": 1.0})
    assert row["mean_fraction_over_languages"] == pytest.approx(0.95)
    assert row["teacher_exact_match_by_language"] == pytest.approx({"de": 0.7, "en": 0.9})
    assert row["student_exact_match_by_language"] == pytest.approx({"de": 0.63, "en": 0.9})
    assert row["rows_by_language"] == {"de": 50, "en": 100}
    assert row["teacher_mean_exact_match_over_languages"] == pytest.approx(0.8)
    assert row["size_ratio"] == pytest.approx(50)
    assert row["stopped"]["teacher"]["best_step"] == 750 and row["stopped"]["student"]["kept_epoch"] == 2
    assert row["teacher_train_rows_left_out"] == {"too_long": 2} and row["teacher_eval_rows_cut"] == 1
    # Stages that ran are timed; one taken from the cache is named as such.
    assert set(row["stage_seconds"]) == {"TeacherFinetune", "Trainer", "Evaluator"}
    assert row["cached"] == ["DatasetGen"]
    assert row["commit"] and row["machine"] and row["date"]
    assert HEADLINE not in row  # the record's own field names, not TFMA's


def test_bench_real_reads_the_store_where_its_run_puts_it(recorded):
    tmp, row = recorded
    # bench.real runs the pipeline with project.work_dir=WORK/runs: its store is WORK/runs/metadata/.
    found = real.record("pipeline.yaml", str(tmp), PIPELINE)
    assert found["run"] == RUN and found["fraction_of_teacher"] == pytest.approx(row["fraction_of_teacher"])


def test_no_run_is_a_usage_error(tmp_path, capsys):
    config = tmp_path / "pipeline.yaml"
    config.write_text("project: {work_dir: runs}\n", encoding="utf-8")
    assert runs.main(["--config", str(config), "--output", str(tmp_path / "out.jsonl")]) == 2
    assert "no pipeline run" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
