"""Everything the review report shows, as plain JSON-able data (NaN where undefined): the run's
status, verdict and metrics, re-scored predictions, size and speed, data, dead letters,
training curves, lineage and config; and the comparison of a run with a baseline run.

Everything is found through MLMD (`run_store`): the run's executions and artifacts give the
lineage, the stage timings and the folders to read. Metrics and the verdict come from TFMA
and the Evaluator's `ModelBlessing` (`evaluation`); what TFMA cannot hold is recomputed
(`rescoring`).
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, Dict, Optional, Tuple

from review.artifacts import (
    data_counts,
    dead_letters,
    eval_split,
    lineage,
    run_config,
    stopping_points,
    teacher_max_length,
    training_curves,
    utc,
)
from review.evaluation import read_evaluation
from review.rescoring import rescore_predictions
from review.run_store import Run
from review.speed import eval_queries, size_and_speed
from schemas.features import HEADLINE

STUDENT_LANGUAGE_METRICS = ("student_exact_match", "student_intent_accuracy", "student_slot_f1")
COMPARED_SIZE_SPEED = ("student_params", "student_int8_bytes", "student_p50_ms")


def run_status(run: Run, evaluated: bool) -> Tuple[str, Optional[str]]:
    """("complete" | "failed" | "running", a message for the reviewer or None)."""
    failed = [e.component for e in run.executions if e.state == "FAILED"]
    running = [e.component for e in run.executions if e.state in ("NEW", "RUNNING")]
    ran = ", ".join(f"{e.component} ({e.state})" for e in run.executions) or "none"
    status = "failed" if failed else "running" if running else "complete"
    if evaluated:
        return status, (f"Stages after the evaluation failed: {', '.join(failed)}." if failed else None)
    if failed:
        # MLMD keeps an execution's state, not its error: the message is in the run's own output.
        return status, (
            f"Run {run.id} failed at {', '.join(failed)} before evaluation (its error is in the run's output). "
            f"Stages that ran: {ran}."
        )
    if running:
        return status, (
            f"Run {run.id} is still running ({', '.join(running)}); it has not reached evaluation. "
            f"Stages so far: {ran}."
        )
    return status, f"Run {run.id} has no evaluation (its Evaluator never ran). Stages that ran: {ran}."


def build_report(
    run: Run, default_teacher_max_length: int, latency_queries: int = 100, measure_teacher: bool = True
) -> Dict[str, Any]:
    """Everything the report shows. The teacher is timed with the sub-token limit the run's
    teacher inference used (`default_teacher_max_length` when the run does not record one);
    `latency_queries` 0 skips size and speed."""
    evaluated = read_evaluation(run)
    status, message = run_status(run, evaluated is not None)
    config = run_config(run)
    report: Dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "run": {
            "id": run.id,
            "context_id": run.context_id,
            "pipeline": run.pipeline,
            "started": utc(run.created_ms),
            "status": status,
            "metadata": run.metadata_path,
        },
        "evaluated": evaluated is not None,
        "message": message,
        "verdict": evaluated["verdict"] if evaluated else None,
        "metrics": evaluated["metrics"] if evaluated else None,
        "evaluation_uri": evaluated["uri"] if evaluated else None,
        # The split the Evaluator scored, which the metrics, predictions and charts are about.
        "evaluation_split": eval_split(run.execution("Evaluator")) if evaluated else None,
        "predictions": None,
        "size_speed": None,
        "size_speed_missing": "the run has no trained student",
        "data": data_counts(run),
        "dead_letters": dead_letters(run),
        "training": training_curves(run),
        "stopped": stopping_points(run),
        "lineage": lineage(run),
        "config": config,
        "comparison": None,
    }
    if evaluated:
        report["predictions"] = rescore_predictions(run, evaluated["metrics"]["overall"])
    if run.student_model() is not None and latency_queries > 0:
        texts, token_lists = eval_queries(run)
        max_length = teacher_max_length(run, default_teacher_max_length)
        report["size_speed"] = size_and_speed(run, max_length, texts, token_lists, latency_queries, measure_teacher)
    elif latency_queries <= 0:
        report["size_speed_missing"] = "latency measurement switched off (--latency-queries 0)"
    return report


def _flatten(value: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _delta(current: Optional[float], baseline: Optional[float]) -> Dict[str, Optional[float]]:
    missing = current is None or baseline is None or math.isnan(current) or math.isnan(baseline)
    return {"baseline": baseline, "current": current, "delta": None if missing else current - baseline}


def _within_intervals(name: str, current: Dict[str, Any], baseline: Dict[str, Any]) -> Optional[bool]:
    """Whether a change of `name` is inside the noise: each run's point estimate lies inside the
    other run's 95 % interval (None when either run has no interval for it)."""
    try:
        cur, base = float(current[name]), float(baseline[name])
        cur_low, cur_high = float(current[f"{name}_lower"]), float(current[f"{name}_upper"])
        base_low, base_high = float(baseline[f"{name}_lower"]), float(baseline[f"{name}_upper"])
    except (KeyError, TypeError, ValueError):
        return None
    if any(math.isnan(v) for v in (cur, base, cur_low, cur_high, base_low, base_high)):
        return None
    return base_low <= cur <= base_high and cur_low <= base <= cur_high


def _with_noise(deltas: Dict[str, Dict[str, Any]], current: Dict[str, Any], baseline: Dict[str, Any]) -> None:
    for name, delta in deltas.items():
        if f"{name}_lower" in current or f"{name}_lower" in baseline:
            delta["within_intervals"] = _within_intervals(name, current, baseline)


def compare_reports(current: Dict[str, Any], baseline: Dict[str, Any]) -> Dict[str, Any]:
    """Metric deltas (this run - baseline): overall, per language, student size/speed; config changes."""
    cur_m, base_m = current.get("metrics") or {}, baseline.get("metrics") or {}
    cur_overall, base_overall = cur_m.get("overall", {}), base_m.get("overall", {})
    overall = {k: _delta(cur_overall.get(k), base_overall.get(k)) for k in sorted(set(cur_overall) | set(base_overall))}
    _with_noise(overall, cur_overall, base_overall)
    language_metrics = [HEADLINE, *STUDENT_LANGUAGE_METRICS]
    cur_lang, base_lang = cur_m.get("per_language", {}), base_m.get("per_language", {})
    per_language = {
        lang: {k: _delta(cur_lang.get(lang, {}).get(k), base_lang.get(lang, {}).get(k)) for k in language_metrics}
        for lang in sorted(set(cur_lang) | set(base_lang))
    }
    for lang, deltas in per_language.items():
        _with_noise(deltas, cur_lang.get(lang, {}), base_lang.get(lang, {}))
    cur_s, base_s = current.get("size_speed") or {}, baseline.get("size_speed") or {}
    size_speed = {
        key: _delta(cur_s.get(key), base_s.get(key)) for key in COMPARED_SIZE_SPEED if key in cur_s or key in base_s
    }
    cur_c, base_c = _flatten(current.get("config") or {}), _flatten(baseline.get("config") or {})
    changes = [
        {"key": k, "baseline": json.dumps(base_c.get(k)), "current": json.dumps(cur_c.get(k))}
        for k in sorted(set(cur_c) | set(base_c))
        if cur_c.get(k) != base_c.get(k)
    ]
    return {
        "baseline_run": baseline["run"]["id"],
        "blessed": {
            "current": (current.get("verdict") or {}).get("blessed"),
            "baseline": (baseline.get("verdict") or {}).get("blessed"),
        },
        "overall": overall,
        "language_metrics": language_metrics,
        "per_language": per_language,
        "size_speed": size_speed,
        "config_changes": changes,
    }
