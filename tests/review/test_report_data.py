"""The report's data without a pipeline run: comparison of two reports, the gates read from an
eval config, failed checks in words, the end-of-run summary's verdict, the status of a run from
its executions."""

import json
import math

import pytest
from google.protobuf import json_format
from tensorflow_model_analysis.proto import config_pb2, validation_result_pb2

from models import fraction_of_teacher as fot
from models.fraction_of_teacher import FLOOR_GATE, GATE
from review.evaluation import Gates, SlicedMetrics, check_message, failed_checks, gates, slices_below
from review.report import compare_reports, run_status
from review.run_store import Execution, Run
from review.summary import RunSummary, format_summary
from schemas.features import HEADLINE


def test_compare_reports_signed_deltas_and_config_changes():
    current = {
        "run": {"id": "b"},
        "verdict": {"blessed": True},
        "metrics": {
            "overall": {"student_exact_match": 0.8, HEADLINE: math.nan},
            "per_language": {"de": {"student_exact_match": 0.7}},
        },
        "size_speed": {"student_params": 1000, "student_p50_ms": 2.0},
        "config": {"student": {"qrnn": {"state_size": 96}}, "training": {"epochs": 10}},
    }
    baseline = {
        "run": {"id": "a"},
        "verdict": {"blessed": False},
        "metrics": {
            "overall": {"student_exact_match": 0.6, HEADLINE: 0.9},
            "per_language": {"en": {"student_exact_match": 0.5}},
        },
        "size_speed": {"student_params": 4000, "student_p50_ms": 3.0},
        "config": {"student": {"qrnn": {"state_size": 128}}, "training": {"epochs": 10}},
    }
    out = compare_reports(current, baseline)
    assert out["baseline_run"] == "a" and out["blessed"] == {"current": True, "baseline": False}
    assert math.isclose(out["overall"]["student_exact_match"]["delta"], 0.2)
    assert out["overall"][HEADLINE]["delta"] is None  # undefined on one side: no delta
    assert out["per_language"]["de"]["student_exact_match"] == {"baseline": None, "current": 0.7, "delta": None}
    assert out["size_speed"]["student_params"]["delta"] == -3000
    assert out["config_changes"] == [{"key": "student.qrnn.state_size", "baseline": "128", "current": "96"}]


def test_comparison_says_whether_a_change_is_inside_the_intervals():
    def report(run_id, overall, de):
        return {"run": {"id": run_id}, "verdict": {"blessed": True}, "config": {},
                "metrics": {"overall": overall, "per_language": {"de": de}}}  # fmt: skip

    def headline(value, low, high):
        return {HEADLINE: value, f"{HEADLINE}_lower": low, f"{HEADLINE}_upper": high}

    current = report("b", headline(0.95, 0.93, 0.97), headline(0.99, 0.97, 1.0))
    baseline = report("a", headline(0.94, 0.92, 0.96), headline(0.90, 0.88, 0.92))
    out = compare_reports(current, baseline)
    assert out["overall"][HEADLINE]["within_intervals"] is True  # +0.01: noise
    assert out["per_language"]["de"][HEADLINE]["within_intervals"] is False  # +0.09: a real change
    assert "within_intervals" not in out["overall"][f"{HEADLINE}_lower"]


def test_gates_are_read_from_the_eval_config():
    bound = pytest.approx(fot.ABOVE_TEACHER_BOUND)
    assert gates(fot.eval_config(0.9, 0.8)) == Gates(pytest.approx(0.9), pytest.approx(0.8), None, bound)
    assert gates(fot.eval_config(0.95, None, fot.GateRule(), 0.5)) == Gates(pytest.approx(0.95), None, 0.5, bound)
    assert gates(fot.eval_config(0.95, None, fot.GateRule(bootstrap_samples=0))).above_teacher_bound is None


def test_gates_of_a_run_from_before_the_teacher_checks():
    # Its eval config as the Evaluator wrote it: only the gate and the floor.
    def lower(value, *feature_keys):
        slicing = {"featureKeys": list(feature_keys)} if feature_keys else {}
        return {"thresholds": [{"slicingSpecs": [slicing], "threshold": {"valueThreshold": {"lowerBound": value}}}]}

    spec = {
        "metrics": [{"className": "FractionOfTeacher", "config": "{}"}],
        "perSliceThresholds": {GATE: lower(0.95), FLOOR_GATE: lower(0.9, "lang")},
    }
    old = json_format.Parse(json.dumps({"metricsSpecs": [spec]}), config_pb2.EvalConfig())
    assert gates(old) == Gates(pytest.approx(0.95), pytest.approx(0.9), None, None)


def test_failed_teacher_checks_read_clearly():
    from tests.models.test_fraction_of_teacher import HEALTHY, _rows, _validate

    # th: teacher EM 0.17; de: the student at 1.5 of its teacher.
    rows = _rows("en", **HEALTHY) * 3 + _rows("th", 6, 4, 30, 160) + _rows("de", 30, 0, 60, 10)
    ok, _, failures = _validate(fot.eval_config(0.0, None, fot.GateRule(), 0.5), rows)
    result = validation_result_pb2.ValidationResult(validation_ok=ok)
    for name, failure in failures:
        per_slice = result.metric_validations_per_slice.add(failures=[failure])
        if name != "overall":
            per_slice.slice_key.single_slice_keys.add(column="lang", bytes_value=name.split("=")[1].encode())
    checks = {(c["slice"], c["metric"]): c for c in failed_checks(result)}
    assert not ok and set(checks) == {("lang=th", fot.TEACHER_GATE), ("lang=de", fot.ABOVE_TEACHER_GATE)}
    weak = checks["lang=th", fot.TEACHER_GATE]
    assert (weak["value"], weak["bound"], weak["bound_kind"]) == (0.17, 0.5, "lower")
    assert weak["message"] == (
        "lang=th: teacher exact match 0.170 below teacher_min_exact_match 0.5 — "
        "the teacher is weak here; a fraction of it is not a result"
    )
    above = checks["lang=de", fot.ABOVE_TEACHER_GATE]
    assert above["bound"] == pytest.approx(fot.ABOVE_TEACHER_BOUND) and above["bound_kind"] == "upper"
    assert above["value"] > fot.ABOVE_TEACHER_BOUND
    assert above["message"] == (
        "lang=de: the student is clearly above the teacher (the fraction's 95 % interval starts at "
        f"{above['value']:.3f}, above 1.1) — the teacher is weak here; a fraction of it is not a result"
    )
    assert check_message("lang=th", fot.ABOVE_TEACHER_GATE, math.nan, 1.0).startswith(
        "lang=th: the teacher got no example exactly right"
    )


def _summary(per_language, overall, blessed=False, teacher_min=0.5):
    return RunSummary(
        run_id="r", split="test", min_slice_examples=100, blessed=blessed, threshold=0.95, per_language_floor=None,
        overall=overall, per_language=per_language, teacher_bytes=0, student_int8_bytes=0, pushed_to=None,
        teacher_min_exact_match=teacher_min, above_teacher_bound=1.0,
    )  # fmt: skip


def _values(teacher, student, low, high):
    ratio = student / teacher if teacher else math.nan
    gate = {GATE: ratio, FLOOR_GATE: ratio}
    return {"eval_examples": 200, "teacher_exact_match": teacher, "student_exact_match": student,
            HEADLINE: ratio, f"{HEADLINE}_lower": low, f"{HEADLINE}_upper": high, **gate}  # fmt: skip


def test_the_run_summary_says_when_the_teacher_is_the_reason():
    healthy = _values(0.9, 0.88, 0.95, 1.0)
    per_language = {"en": healthy, "th": _values(0.172, 0.18, 0.96, 1.12), "de": _values(0.6, 0.8, 1.12, 1.45)}
    verdict = format_summary(_summary(per_language, healthy)).split("\n")[-2]
    assert verdict == (
        f"NOT BLESSED (threshold 0.95 on overall {HEADLINE}, teacher EM >= 0.5; "
        "teacher weak: th teacher EM 0.172 < 0.5; de: student clearly above the teacher (interval 1.120-1.450))"
    )
    # A teacher that got nothing right: its EM 0 and an undefined fraction.
    broken = format_summary(_summary({"th": _values(0.0, 0.3, math.nan, math.nan)}, healthy)).split("\n")[-2]
    assert broken.endswith("teacher weak: th teacher EM 0.000 < 0.5; th: the teacher got no example exactly right)")
    # Without a teacher minimum only the other check speaks; a healthy run says nothing more.
    off = format_summary(_summary(per_language, healthy, teacher_min=None)).split("\n")[-2]
    assert off.endswith(f"overall {HEADLINE}; de: student clearly above the teacher (interval 1.120-1.450))")
    assert format_summary(_summary({"en": healthy}, healthy, blessed=True)).split("\n")[-2] == (
        f"BLESSED (threshold 0.95 on overall {HEADLINE}, teacher EM >= 0.5)"
    )


def test_status_of_a_run_still_in_progress_and_of_a_failed_push():
    def run(*states):
        names = ["DatasetGen", "Trainer", "Evaluator", "AtomicPusher"]
        executions = [Execution(i, names[i], state, 0, 1, {}) for i, state in enumerate(states)]
        return Run("r1", 1, "p", 0, "db", executions, {}, [])

    status, message = run_status(run("COMPLETE", "RUNNING"), evaluated=False)
    assert status == "running" and "still running (Trainer)" in message and "DatasetGen (COMPLETE)" in message
    status, message = run_status(run("COMPLETE", "COMPLETE", "COMPLETE", "FAILED"), evaluated=True)
    assert status == "failed" and message == "Stages after the evaluation failed: AtomicPusher."
    assert run_status(run("COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE"), evaluated=True) == ("complete", None)


def test_slices_below_the_floor_are_judged_on_the_gate_values():
    small, judged = {HEADLINE: 0.5, GATE: 0.5, FLOOR_GATE: math.inf}, {HEADLINE: 0.9, GATE: 0.7, FLOOR_GATE: 0.7}
    metrics = SlicedMetrics(
        overall={HEADLINE: 0.9},
        per_language={"de": judged, "th": small, "en": {HEADLINE: math.nan}},
        per_intent={"on": judged},
        threshold=0.8,
        per_language_floor=0.75,
    )
    below, undefined = slices_below(metrics, 0.75)
    # th is too small for the floor to judge; `on` is below for information only.
    assert [(b["slice"], b["value"], b["gated"]) for b in below] == [("lang=de", 0.7, True), ("intent=on", 0.7, False)]
    assert undefined == ["lang=en"]


def test_the_run_summary_says_where_each_stage_stopped_and_why():
    from dataclasses import replace

    stopped = {
        "teacher": {"best_step": 1750, "best_epoch": 8.7, "last_step": 2250, "eval_exact_match": 0.7123,
                    "reason": "no eval gain of 0.002 in 2 evaluations"},
        "student": {"epochs_run": 12, "kept_epoch": 11, "quantization_aware_from_epoch": 11, "eval_exact_match": 0.65,
                    "reason": "the epoch budget (training.epochs)",
                    "eval_exact_match_per_epoch": [0.5] * 10 + [0.65, 0.6]},
    }  # fmt: skip
    healthy = _values(0.9, 0.88, 0.95, 1.0)
    lines = format_summary(replace(_summary({"en": healthy}, healthy), stopped=stopped)).split("\n")
    assert lines[-4:-2] == [
        "teacher fine-tune: kept step 1750 (epoch 8.7, eval exact match 0.712), stopped at step 2250: "
        "no eval gain of 0.002 in 2 evaluations",
        "student: kept epoch 11 of 12 (eval exact match 0.650), stopped: the epoch budget (training.epochs)",
    ]
    # A run without the stopping records (an imported teacher, an older run) prints neither line.
    assert format_summary(_summary({"en": healthy}, healthy)).split("\n")[-3].startswith("size:")
