"""The real pipeline with LocalDagRunner on tiny data and a tiny teacher: every component runs
with MLMD, the student is blessed and pushed, re-runs hit the cache, an impossible threshold
pushes nothing, a schema anomaly stops the run at validation, and a failing job's own message
reaches the error and MLMD."""

import json
import os
import subprocess
import sys

import ml_metadata as mlmd
import pytest
from tfx import v1 as tfx

from pipeline.local_runner import run_local, run_paths, summarize
from tests.conftest import PIPELINE_COMPONENTS, tiny_config

pytestmark = pytest.mark.e2e
EXPENSIVE = {"DatasetGen", "TeacherFinetune", "TeacherInference", "Trainer", "Transform"}


def _executions_of_last_run(config):
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(run_paths(config).metadata_path)
    )
    run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    types = {t.id: t.name for t in store.get_execution_types()}
    out = {}
    for execution in store.get_executions_by_context(run.id):
        out[types[execution.type_id].rsplit(".", 1)[-1]] = mlmd.proto.Execution.State.Name(execution.last_known_state)
    return out


def _versions(serving_dir):
    return sorted(os.listdir(serving_dir)) if os.path.isdir(serving_dir) else []


def test_pipeline_blesses_pushes_caches_and_gates(tiny):
    config = tiny_config(tiny)
    run_local(config)
    executions = _executions_of_last_run(config)
    assert PIPELINE_COMPONENTS <= set(executions), executions
    assert all(state == "COMPLETE" for state in executions.values()), executions
    summary = summarize(config)
    assert summary.blessed
    assert summary.overall["teacher_exact_match"] > 0 and summary.student_int8_bytes > 0
    versions = _versions(config.push.serving_dir)
    assert len(versions) == 1 and versions[0].isdigit(), versions  # no half-written ".incoming-*" left
    pushed = os.path.join(config.push.serving_dir, versions[0])
    assert summary.pushed_to == pushed
    assert os.path.exists(os.path.join(pushed, "assets.extra", "student_int8.tflite"))

    # The pushed SavedModel answers raw text in a fresh process without project code.
    code = (
        "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]);"
        "out = m.signatures['serving_default'](text=tf.constant(['turn on the kitchen light']));"
        "print(out['intent'].numpy()[0].decode())"
    )
    proc = subprocess.run([sys.executable, "-c", code, pushed], capture_output=True, text=True, timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith("Hass")

    # Unchanged inputs: every expensive component is served from the cache.
    run_local(config)
    executions = _executions_of_last_run(config)
    assert all(executions[name] == "CACHED" for name in EXPENSIVE), executions

    # An impossible threshold: not blessed, nothing new pushed. The training change re-runs the
    # Trainer only: the stages before it do not read `training`, so they stay cached.
    strict = tiny_config(tiny, ["evaluation.fraction_of_teacher_threshold=1.01", "training.epochs=1"])
    run_local(strict)
    executions = _executions_of_last_run(strict)
    assert all(executions[name] == "CACHED" for name in EXPENSIVE - {"Trainer"}), executions
    assert executions["Trainer"] == executions["Evaluator"] == "COMPLETE", executions
    assert not summarize(strict).blessed
    assert summarize(strict).pushed_to is None
    assert _versions(config.push.serving_dir) == versions

    # A student ablation on that run's cached soft labels, on eval only (bench.ablate).
    from bench import ablate

    rows = tiny / "ablation.jsonl"
    argv = ["--config", str(tiny / "pipeline.yaml"), "--name", "two epochs", "--output", str(rows)]
    assert ablate.main(argv + ["--set", "training.epochs=2"]) == 0
    row = json.loads(rows.read_text())
    assert row["name"] == "two epochs" and len(row["eval_exact_match_per_epoch"]) == 2
    assert row["eval_fraction_of_teacher"] == row["student_eval_exact_match"] / row["teacher_eval_exact_match"]
    assert set(row["student_eval_exact_match_by_language"]) == {"en"}  # the tiny config's one language
    assert not any("test" in key for key in row)

    # Held-out training templates, with and without one augmentation method (bench.holdout).
    from bench import holdout

    rows = tiny / "holdout.jsonl"
    argv = ["--config", str(tiny / "pipeline.yaml"), "--name", "held out", "--lang", "en", "--output", str(rows)]
    assert holdout.main(argv + ["--without", "word_swap", "--set", "training.epochs=1"]) == 0
    variants = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [v["variant"] for v in variants] == ["all methods", "without word_swap"]
    assert all(v["held_out_rows"] > 0 and 0 <= v["student_held_out_exact_match"] <= 1 for v in variants)
    assert not any("test" in key for v in variants for key in v)


def test_schema_anomaly_stops_the_run_at_validation(tiny, tmp_path):
    rows = tmp_path / "rows.jsonl"
    good = "".join(f'{{"text": "turn on light number {i}", "intent": "on"}}\n' for i in range(20))
    rows.write_text(good + '{"text": "' + " ".join(["very"] * 80) + ' long", "intent": "on"}\n')
    config = tiny_config(
        tiny,
        ["data.source=jsonl", f"data.paths=[{rows}]", "data.max_tokens=200", f"project.work_dir={tmp_path / 'work'}"],
    )
    with pytest.raises(RuntimeError, match="schema anomalies") as err:
        run_local(config)
    assert "'tokens'" in str(err.value)
    executions = _executions_of_last_run(config)
    assert "Transform" not in executions and "Trainer" not in executions


def test_a_failing_job_reports_its_own_message_in_the_error_and_in_mlmd(tiny, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "turn on the light", "intent": "on"}\n' + '{"text": ""}\n' * 3)
    config = tiny_config(tiny, ["data.source=jsonl", f"data.paths=[{rows}]", f"project.work_dir={tmp_path / 'work'}"])
    with pytest.raises(Exception, match=r"3 of 4 rows dead-lettered \(empty_text 3; ") as err:
        run_local(config)
    assert "data.max_dead_letter_ratio" in str(err.value)
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(run_paths(config).metadata_path)
    )
    [failed] = [e for e in store.get_executions() if e.last_known_state == mlmd.proto.Execution.FAILED]
    assert "3 of 4 rows dead-lettered" in failed.custom_properties["__execution_result__"].string_value
    assert set(_executions_of_last_run(config)) == {"DatasetGen"}
