"""The report's data without a pipeline run: comparison of two reports, the gates read from an
eval config, the status of a run from its executions."""

import math

import pytest

from models import fraction_of_teacher as fot
from models.fraction_of_teacher import FLOOR_GATE, GATE
from review.evaluation import SlicedMetrics, gates, slices_below
from review.report import compare_reports, run_status
from review.run_store import Execution, Run
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
    assert gates(fot.eval_config(0.9, 0.8)) == pytest.approx((0.9, 0.8))
    assert gates(fot.eval_config(0.95, None)) == pytest.approx((0.95, None))


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
