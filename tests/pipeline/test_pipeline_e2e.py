"""The real pipeline with LocalDagRunner on tiny data and a tiny teacher (the shared runs of
`tiny_runs`): every component runs with MLMD, the student is blessed and pushed, re-runs hit
the cache, an impossible threshold pushes nothing, a run leaves no temp files, a schema anomaly
stops the run at validation, and a failing job's own message reaches the error and MLMD."""

import json
import subprocess
import sys

import ml_metadata as mlmd
import pytest

from pipeline.local_runner import run_local
from tests.conftest import PIPELINE_COMPONENTS, last_run, metadata_store, tiny_config

pytestmark = pytest.mark.e2e
EXPENSIVE = {"DatasetGen", "TeacherFinetune", "TeacherInference", "Trainer", "Transform"}


def test_every_component_runs_and_the_student_is_blessed_and_pushed_once(tiny_runs):
    full = tiny_runs["full"]
    assert PIPELINE_COMPONENTS <= set(full.executions), full.executions
    # ImportSchemaGen reads the same schema file as the failed run before it: from the cache.
    assert all(state in ("COMPLETE", "CACHED") for state in full.executions.values()), full.executions
    assert all(full.executions[name] == "COMPLETE" for name in EXPENSIVE), full.executions
    assert full.summary.blessed
    assert full.summary.overall["teacher_exact_match"] > 0 and full.summary.student_int8_bytes > 0
    versions = full.serving_versions
    assert len(versions) == 1 and versions[0].isdigit(), versions  # no half-written ".incoming-*" left
    assert full.summary.pushed_to == f"{full.config.push.serving_dir}/{versions[0]}"


def test_the_pushed_saved_model_answers_raw_text_in_a_fresh_process(tiny_runs):
    pushed = tiny_runs["full"].summary.pushed_to
    code = (
        "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]);"
        "out = m.signatures['serving_default'](text=tf.constant(['turn on the kitchen light']));"
        "print(out['intent'].numpy()[0].decode())"
    )
    proc = subprocess.run([sys.executable, "-c", code, pushed], capture_output=True, text=True, timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith("Hass")


def test_unchanged_inputs_come_from_the_cache(tiny_runs):
    executions = tiny_runs["cached"].executions
    assert all(executions[name] == "CACHED" for name in EXPENSIVE), executions
    assert tiny_runs["cached"].serving_versions == tiny_runs["full"].serving_versions


def test_a_training_change_reruns_the_trainer_only_and_an_impossible_threshold_pushes_nothing(tiny_runs):
    # The stages before the Trainer do not read `training`, so they stay cached.
    strict = tiny_runs["finished"](
        tiny_config(tiny_runs["tmp"], ["evaluation.fraction_of_teacher_threshold=1.01", "training.epochs=1"])
    )
    assert all(strict.executions[name] == "CACHED" for name in EXPENSIVE - {"Trainer"}), strict.executions
    assert strict.executions["Trainer"] == strict.executions["Evaluator"] == "COMPLETE", strict.executions
    assert not strict.summary.blessed and strict.summary.pushed_to is None
    assert strict.serving_versions == tiny_runs["full"].serving_versions


def test_a_local_run_removes_its_temp_files_even_when_it_fails(tiny_runs):
    # Each Beam component's executor builds a ~45 MB TFX sdist in a temp dir it never removes.
    assert tiny_runs["left_in_tempdir"] == []


def test_a_schema_anomaly_stops_the_run_at_validation(tiny_runs):
    failed = tiny_runs["failed"]
    assert "'tokens'" in failed.error
    assert "Transform" not in failed.executions and "Trainer" not in failed.executions


def test_bench_ablate_trains_on_the_runs_soft_labels_and_scores_eval_only(tiny_runs, tmp_path):
    from bench import ablate

    rows = tmp_path / "ablation.jsonl"
    argv = ["--config", str(tiny_runs["tmp"] / "pipeline.yaml"), "--name", "one epoch", "--output", str(rows)]
    assert ablate.main(argv + ["--set", "training.epochs=1"]) == 0
    row = json.loads(rows.read_text())
    assert row["name"] == "one epoch" and len(row["eval_exact_match_per_epoch"]) == 1
    assert row["eval_fraction_of_teacher"] == row["student_eval_exact_match"] / row["teacher_eval_exact_match"]
    assert set(row["student_eval_exact_match_by_language"]) == {"en"}  # the tiny config's one language
    coverage = row["teacher_eval_exact_match_by_word_coverage"]
    assert (
        set(row["student_eval_exact_match_by_word_coverage"]) == set(coverage) <= {"every word seen", "an unseen word"}
    )
    intent = row["student_eval_intent_accuracy_by_intent_train_rows"]
    assert set(intent) == set(row["teacher_eval_intent_accuracy_by_intent_train_rows"]) and intent
    assert set(intent) <= {"0-20", "21-60", "61-200", "201+"} and all(0.0 <= a <= 1.0 for a in intent.values())
    assert not any("test" in key for key in row)


def test_bench_holdout_scores_held_out_training_templates_with_and_without_a_method(tiny_runs, tmp_path):
    from bench import holdout

    rows = tmp_path / "holdout.jsonl"
    argv = ["--config", str(tiny_runs["tmp"] / "pipeline.yaml"), "--name", "held out", "--lang", "en"]
    assert holdout.main(argv + ["--output", str(rows), "--without", "word_swap", "--set", "training.epochs=1"]) == 0
    variants = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [v["variant"] for v in variants] == ["all methods", "without word_swap"]
    assert all(v["held_out_rows"] > 0 and 0 <= v["student_held_out_exact_match"] <= 1 for v in variants)
    assert not any("test" in key for v in variants for key in v)


def test_a_failing_job_reports_its_own_message_in_the_error_and_in_mlmd(tiny, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "turn on the light", "intent": "on"}\n' + '{"text": ""}\n' * 3)
    config = tiny_config(tiny, ["data.source=jsonl", f"data.paths=[{rows}]", f"project.work_dir={tmp_path / 'work'}"])
    with pytest.raises(Exception, match=r"3 of 4 rows dead-lettered \(empty_text 3; ") as err:
        run_local(config)
    assert "data.max_dead_letter_ratio" in str(err.value)
    store = metadata_store(config)
    [failed] = [e for e in store.get_executions() if e.last_known_state == mlmd.proto.Execution.FAILED]
    assert "3 of 4 rows dead-lettered" in failed.custom_properties["__execution_result__"].string_value
    assert set(last_run(config)[1]) == {"DatasetGen"}
