"""The Evaluator's TFMA results of a run: metric values overall, per language and per intent,
the gates of the eval config it ran with, failed validations, and the verdict."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from review.run_store import Run
from schemas.features import HEADLINE, INTENT, LANG


def metric_values(metrics: Dict[str, Any]) -> Dict[str, float]:
    """{metric name: value} of one slice of `EvalResult.slicing_metrics` (single model and output)."""
    values = metrics.get("", {}).get("", {})
    return {k: float(v.get("doubleValue", "nan")) for k, v in values.items() if isinstance(v, dict)}


def slice_name(slice_key: Tuple) -> str:
    """`overall` or `column=value, ...`."""
    if not slice_key:
        return "overall"
    return ", ".join(f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in slice_key)


@dataclass(frozen=True)
class Gates:
    """The blessing's thresholds as the Evaluator ran them; None where the eval config has none
    (not configured, or a run from before that check existed)."""

    threshold: Optional[float] = None
    per_language_floor: Optional[float] = None
    # The teacher checks (`models.fraction_of_teacher.TEACHER_GATE`, `ABOVE_TEACHER_GATE`): the
    # teacher's least exact match, and the most the lower end of the fraction's interval may be.
    teacher_min_exact_match: Optional[float] = None
    above_teacher_bound: Optional[float] = None


def gates(eval_config: Any) -> Gates:
    """The thresholds of the blessing, read from the eval config the Evaluator ran with: lower
    bounds on the metric's gate values (`GATE`, `FLOOR_GATE`) or, in runs from before those
    existed, on the headline metric itself, in the per-slice form or TFX's older all-slices form;
    and the teacher checks, in runs that have them."""
    from models.fraction_of_teacher import ABOVE_TEACHER_GATE, FLOOR_GATE, GATE, TEACHER_GATE

    threshold = floor = teacher_min = above_teacher = None
    for spec in eval_config.metrics_specs:
        for name in (HEADLINE, GATE, FLOOR_GATE):
            if name in spec.thresholds:
                threshold = spec.thresholds[name].value_threshold.lower_bound.value
            per_slice = spec.per_slice_thresholds[name].thresholds if name in spec.per_slice_thresholds else []
            for slice_threshold in per_slice:
                bound = slice_threshold.threshold.value_threshold.lower_bound.value
                for slicing in slice_threshold.slicing_specs:
                    if not slicing.feature_keys:
                        threshold = bound
                    elif list(slicing.feature_keys) == [LANG]:
                        floor = bound
        if TEACHER_GATE in spec.per_slice_thresholds:
            for slice_threshold in spec.per_slice_thresholds[TEACHER_GATE].thresholds:
                teacher_min = slice_threshold.threshold.value_threshold.lower_bound.value
        if ABOVE_TEACHER_GATE in spec.per_slice_thresholds:
            for slice_threshold in spec.per_slice_thresholds[ABOVE_TEACHER_GATE].thresholds:
                above_teacher = slice_threshold.threshold.value_threshold.upper_bound.value
    return Gates(threshold, floor, teacher_min, above_teacher)


@dataclass
class SlicedMetrics:
    """TFMA's metric values by slice, and the gates of the eval config."""

    overall: Dict[str, float]
    per_language: Dict[str, Dict[str, float]]
    per_intent: Dict[str, Dict[str, float]]
    threshold: Optional[float]
    per_language_floor: Optional[float]
    # How the gates judged (`models.fraction_of_teacher.GateRule` as the Evaluator ran it).
    gate: str = "point"
    min_slice_examples: int = 0
    # The teacher checks (see `Gates`); None where the run did not check.
    teacher_min_exact_match: Optional[float] = None
    above_teacher_bound: Optional[float] = None


def load_metrics(evaluation_uri: str) -> SlicedMetrics:
    """The metrics a `ModelEvaluation` artifact holds, by slice."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    overall: Dict[str, float] = {}
    by_column: Dict[str, Dict[str, Dict[str, float]]] = {LANG: {}, INTENT: {}}
    for slice_key, metrics in result.slicing_metrics:
        values = metric_values(metrics)
        if not slice_key:
            overall = values
        elif len(slice_key) == 1:
            column, value = slice_key[0]
            value = value.decode() if isinstance(value, bytes) else str(value)
            by_column.get(column, {})[value] = values
    found = gates(result.config)
    rule = gate_rule(result.config)
    return SlicedMetrics(
        overall,
        by_column[LANG],
        by_column[INTENT],
        found.threshold,
        found.per_language_floor,
        rule["gate"],
        rule["min_slice_examples"],
        found.teacher_min_exact_match,
        found.above_teacher_bound,
    )


def gate_rule(eval_config: Any) -> Dict[str, Any]:
    """The gate rule the FractionOfTeacher metric ran with (defaults for runs before it had one)."""
    from models.fraction_of_teacher import GateRule

    rule = dataclasses.asdict(GateRule())
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == "FractionOfTeacher" and metric.config:
                rule.update(json.loads(metric.config))
    return rule


WEAK_TEACHER = "the teacher is weak here; a fraction of it is not a result"


def check_message(slice_: str, metric: str, value: Optional[float], bound: float) -> str:
    """What a failed blessing check means, in words, e.g. `lang=th: teacher exact match 0.172
    below teacher_min_exact_match 0.5 — the teacher is weak here; ...`."""
    from models.fraction_of_teacher import ABOVE_TEACHER_GATE, FLOOR_GATE, GATE, TEACHER_GATE

    undefined = value is None or math.isnan(value)
    shown = "undefined (the teacher got no example exactly right)" if undefined else f"{value:.3f}"
    if metric == TEACHER_GATE:
        return f"{slice_}: teacher exact match {shown} below teacher_min_exact_match {bound:g} — {WEAK_TEACHER}"
    if metric == ABOVE_TEACHER_GATE:
        if undefined:
            return f"{slice_}: the teacher got no example exactly right, the fraction is undefined — {WEAK_TEACHER}"
        return (
            f"{slice_}: the student is clearly above the teacher (the fraction's 95 % interval starts at "
            f"{value:.3f}, above {bound:g}) — {WEAK_TEACHER}"
        )
    if metric == GATE:
        return f"{slice_}: fraction of teacher (exact match) {shown} below the threshold {bound:g}"
    if metric == FLOOR_GATE:
        return f"{slice_}: fraction of teacher (exact match) {shown} below the per-language floor {bound:g}"
    return f"{slice_}: {metric} {shown} outside its bound {bound:g}"


def failed_checks(validation: Any) -> List[Dict[str, Any]]:
    """The checks that failed in a TFMA `ValidationResult`, each with a message in words
    (TFMA's own, where it gives one, e.g. "Metric not found.")."""
    failed = []
    for per_slice in validation.metric_validations_per_slice:
        key = tuple(
            (k.column, k.bytes_value or k.float_value or k.int64_value) for k in per_slice.slice_key.single_slice_keys
        )
        for failure in per_slice.failures:
            value = failure.metric_value.double_value.value if failure.metric_value.HasField("double_value") else None
            threshold = failure.metric_threshold.value_threshold
            upper = threshold.HasField("upper_bound") and not threshold.HasField("lower_bound")
            bound = threshold.upper_bound.value if upper else threshold.lower_bound.value
            name, metric = slice_name(key), failure.metric_key.name
            failed.append(
                {
                    "slice": name,
                    "metric": metric,
                    "value": value,
                    "bound": bound,
                    # "lower": the value must be at least `bound`; "upper": at most.
                    "bound_kind": "upper" if upper else "lower",
                    "message": failure.message.strip() or check_message(name, metric, value, bound),
                }
            )
    return failed


def failed_validations(evaluation_uri: str) -> Tuple[bool, List[Dict[str, Any]]]:
    """(validation ok, the checks that failed) of a `ModelEvaluation` artifact."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    return bool(validation.validation_ok), failed_checks(validation)


def slices_below(metrics: SlicedMetrics, floor: Optional[float]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """(slices whose judged headline value is below `floor`, slices where it is undefined).
    Languages are gated only by a configured per-language floor, which judges `FLOOR_GATE`
    (for slices too small to judge, the upper end of the interval); everything else is judged, for information, on
    `GATE` (the value the gate rule picks: the point estimate or the interval's lower end)."""
    from models.fraction_of_teacher import FLOOR_GATE, GATE

    below, undefined = [], []
    for column, slices in ((LANG, metrics.per_language), (INTENT, metrics.per_intent)):
        gated = column == LANG and metrics.per_language_floor is not None
        for name, values in sorted(slices.items()):
            if values.get("eval_examples", 0) < metrics.min_slice_examples and not gated:
                continue  # too few to judge: shown with its interval, never coloured as a failure
            # Undefined: the teacher got no row of the slice exactly right (nothing to be a fraction of).
            if math.isnan(values.get(HEADLINE, math.nan)):
                undefined.append(f"{column}={name}")
                continue
            value = values.get(FLOOR_GATE if gated else GATE, values[HEADLINE])
            if floor is not None and value < floor:
                below.append(
                    {
                        "slice": f"{column}={name}",
                        "value": value,
                        "examples": values.get("eval_examples", 0),
                        "gated": gated,
                    }
                )
    return below, undefined


def read_evaluation(run: Run) -> Optional[Dict[str, Any]]:
    """Verdict and TFMA metrics by slice, or None when the run has no evaluation."""
    from models.fraction_of_teacher import ABOVE_TEACHER_GATE, TEACHER_GATE

    evaluation = run.artifact("Evaluator", "evaluation")
    if evaluation is None:
        return None
    metrics = load_metrics(evaluation.uri)
    validation_ok, failed = failed_validations(evaluation.uri)
    # The floor a reviewer holds every language (and, informatively, every intent) to: the
    # configured per-language floor, else the overall gate.
    floor_used = metrics.per_language_floor if metrics.per_language_floor is not None else metrics.threshold
    below, undefined = slices_below(metrics, floor_used)
    return {
        "uri": evaluation.uri,
        "verdict": {
            "blessed": run.blessed(),
            "validation_ok": validation_ok,
            "headline": HEADLINE,
            "overall_value": metrics.overall.get(HEADLINE, math.nan),
            "threshold": metrics.threshold,
            "per_language_floor": metrics.per_language_floor,
            "floor_used": floor_used,
            "gate": metrics.gate,
            "min_slice_examples": metrics.min_slice_examples,
            "teacher_min_exact_match": metrics.teacher_min_exact_match,
            "above_teacher_bound": metrics.above_teacher_bound,
            "failed_checks": failed,
            # The failed teacher checks' messages: where the teacher itself is weak.
            "teacher_weak": [f["message"] for f in failed if f["metric"] in (TEACHER_GATE, ABOVE_TEACHER_GATE)],
            "below_floor": below,
            "undefined_slices": undefined,
            "pushed_to": run.pushed_to(),
        },
        "metrics": {"overall": metrics.overall, "per_language": metrics.per_language, "per_intent": metrics.per_intent},
    }
