"""TFMA metric: the student's and the teacher's intent accuracy, slot F1 and exact match on the
same eval examples, and their ratio, **fraction of teacher** (the paper's headline number).

The student's predictions come from the model (`intent`, `slot_tags` outputs of the
`serve_examples` signature); the teacher's from the `teacher_intent` / `teacher_slot_tags`
columns that teacher inference wrote into the examples; gold labels from `intent` /
`slot_tags`. Every fraction of teacher comes with a 95 % interval from a paired bootstrap
over the slice's examples, computed in the same combiner from the same counts. A
`MetricThreshold` on `GATE` (the point estimate or the interval's lower end, see `GateRule`)
gates the blessing; an optional per-language floor reads `FLOOR_GATE`; and two teacher checks
(`TEACHER_GATE`, `ABOVE_TEACHER_GATE`) refuse it where the teacher itself is weak. This module is
installed with the project so it imports wherever the Evaluator runs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from schemas.features import HEADLINE, INTENT, LANG, SLOT_TAGS, TEACHER_INTENT, TEACHER_SLOT_TAGS, bio_spans

NAME = "fraction_of_teacher"
FEATURES = (INTENT, SLOT_TAGS, TEACHER_INTENT, TEACHER_SLOT_TAGS)
WHO = ("student", "teacher")
RATIOS = ("exact_match", "intent_accuracy", "slot_f1")
# What the blessing thresholds read (see `GateRule`): the overall gate and the per-language floor.
GATE = f"{HEADLINE}_gate"
FLOOR_GATE = f"{HEADLINE}_floor_gate"
# The teacher checks, on the overall slice and every language (see `eval_config`): a fraction
# of a weak teacher is not a result. The teacher's own exact match must reach the configured
# minimum, and the teacher must not be clearly below the student: the lower end of the
# fraction's 95 % interval at most `ABOVE_TEACHER_BOUND`. Both fail on NaN (TFMA compares
# `lower <= value <= upper`, false for NaN), e.g. where the teacher got no example right.
TEACHER_GATE = "teacher_exact_match"
ABOVE_TEACHER_GATE = f"{HEADLINE}_lower"
# A distilled student a little above its teacher is normal (the embedded default's Thai on
# test: 1.054, interval 1.006-1.101); a teacher that failed a language leaves it far above
# (MTOP Thai with an undertrained teacher: 1.63).
ABOVE_TEACHER_BOUND = 1.1


def _strings(value) -> List[str]:
    if value is None:
        return []
    flat = np.asarray(value, dtype=object).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat]


# Per example and per model: intent right, exact match, slot span true/false positives, false
# negatives. Both models' outcomes on one example stay together: resampling examples for an
# interval then resamples student and teacher as a pair.
Outcome = Tuple[int, int, int, int, int]


def outcome(gold_intent: str, gold_tags: Sequence[str], intent: str, tags: Sequence[str]) -> Outcome:
    """One model's result on one example (its tags padded or cut to the gold length)."""
    tags = (list(tags) + ["O"] * len(gold_tags))[: len(gold_tags)]
    gold, pred = set(bio_spans(gold_tags)), set(bio_spans(tags))
    intent_right = intent == gold_intent
    return (
        int(intent_right),
        int(intent_right and tags == list(gold_tags)),
        len(gold & pred),
        len(pred - gold),
        len(gold - pred),
    )


class Counts:
    """How many examples had each (student outcome, teacher outcome) pair; everything the
    metric reports, intervals included, is a function of these counts."""

    __slots__ = ("pairs",)

    def __init__(self) -> None:
        self.pairs: Counter = Counter()

    @property
    def examples(self) -> int:
        return sum(self.pairs.values())

    def add_example(
        self,
        gold_intent: str,
        gold_tags: Sequence[str],
        student: Tuple[str, Sequence[str]],
        teacher: Tuple[str, Sequence[str]],
    ) -> None:
        """Score one example: `student` and `teacher` are (intent, slot tags)."""
        self.pairs[outcome(gold_intent, gold_tags, *student) + outcome(gold_intent, gold_tags, *teacher)] += 1

    def merge(self, other: "Counts") -> None:
        self.pairs.update(other.pairs)


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _values(totals: np.ndarray, n: np.ndarray) -> Dict[str, np.ndarray]:
    """Metric values from summed outcome columns `totals` [..., 10] over `n` examples."""
    out: Dict[str, np.ndarray] = {}
    for w, who in enumerate(WHO):
        intent, exact, tp, fp, fn = (totals[..., 5 * w + k] for k in range(5))
        out[f"{who}_intent_accuracy"] = _ratio(intent, n)
        out[f"{who}_exact_match"] = _ratio(exact, n)
        spans = tp + fp + fn
        # No slots anywhere and none predicted: perfect; otherwise F1 = 2tp / (2tp + fp + fn).
        out[f"{who}_slot_f1"] = np.where(spans == 0, 1.0, _ratio(2 * tp, 2 * tp + fp + fn))
    # Counts over counts where n cancels, so 7 of the teacher's 8 is exactly 0.875.
    out["fraction_of_teacher_intent_accuracy"] = _ratio(totals[..., 0], totals[..., 5])
    out["fraction_of_teacher_exact_match"] = _ratio(totals[..., 1], totals[..., 6])
    out["fraction_of_teacher_slot_f1"] = _ratio(out["student_slot_f1"], out["teacher_slot_f1"])
    return out


def scores(counts: Counts, bootstrap_samples: int = 1000, seed: int = 0, level: float = 0.95) -> Dict[str, float]:
    """All metric values by name: point values, and for each fraction of teacher the bounds of
    a `level` interval by a paired bootstrap over examples (`bootstrap_samples` resamples,
    seeded: the same counts always give the same interval)."""
    keys = sorted(counts.pairs)
    table = np.asarray(keys, dtype=np.float64).reshape(-1, 10)
    weights = np.asarray([counts.pairs[k] for k in keys], dtype=np.float64)
    n = float(weights.sum())
    point = _values(weights @ table, np.float64(n))
    out: Dict[str, float] = {"eval_examples": n, **{name: float(v) for name, v in point.items()}}
    lows, highs = {}, {}
    if n and bootstrap_samples:
        # A resample of n examples drawn with replacement = multinomial counts over outcome pairs.
        draws = np.random.default_rng(seed).multinomial(int(n), weights / n, size=bootstrap_samples)
        sampled = _values(draws @ table, np.full(bootstrap_samples, n))
        tail = 100 * (1 - level) / 2
        for metric in RATIOS:
            name = f"fraction_of_teacher_{metric}"
            values = sampled[name][~np.isnan(sampled[name])]
            lows[name], highs[name] = (
                (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
                if values.size
                else (math.nan,) * 2
            )
    for metric in RATIOS:
        name = f"fraction_of_teacher_{metric}"
        out[f"{name}_lower"] = lows.get(name, math.nan)
        out[f"{name}_upper"] = highs.get(name, math.nan)
    return out


class _Combiner(beam.CombineFn):
    def __init__(self, keys: Dict[str, metric_types.MetricKey], rule: "GateRule"):
        self._keys = keys
        self._rule = rule

    def create_accumulator(self) -> Counts:
        return Counts()

    def add_input(self, counts: Counts, element: metric_types.StandardMetricInputs) -> Counts:
        features, predictions = element.features, element.predictions
        gold_intent = _strings(features[INTENT])
        if not gold_intent:  # rows without gold labels cannot be scored
            return counts
        counts.add_example(
            gold_intent[0],
            _strings(features[SLOT_TAGS]),
            student=(_strings(predictions["intent"])[0], [t for t in _strings(predictions["slot_tags"]) if t]),
            teacher=(_strings(features[TEACHER_INTENT])[0], _strings(features[TEACHER_SLOT_TAGS])),
        )
        return counts

    def merge_accumulators(self, accumulators: Iterable[Counts]) -> Counts:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for counts in accumulators:
            result.merge(counts)
        return result

    def extract_output(self, counts: Counts) -> Dict[metric_types.MetricKey, float]:
        values = self._rule.with_gates(scores(counts, self._rule.bootstrap_samples, self._rule.seed))
        return {key: values[name] for name, key in self._keys.items()}


@dataclasses.dataclass(frozen=True)
class GateRule:
    """How a slice's fraction of teacher is judged: `gate` "point" uses the point estimate,
    "lower_bound" the lower end of its interval. A slice of fewer than `min_slice_examples`
    examples is "too few to judge" by that rule: the per-language floor then fails it only
    when even the upper end of its interval is below the floor (clearly below, not a coin toss)."""

    gate: str = "point"
    min_slice_examples: int = 100
    bootstrap_samples: int = 1000
    seed: int = 0

    def with_gates(self, values: Dict[str, float]) -> Dict[str, float]:
        judged = values[HEADLINE] if self.gate == "point" else values[f"{HEADLINE}_lower"]
        if values["eval_examples"] >= self.min_slice_examples:
            floor_judged = judged
        else:  # without an interval (no bootstrap) a small slice is not judged: +inf passes
            upper = values[f"{HEADLINE}_upper"]
            floor_judged = math.inf if math.isnan(upper) else upper
        return {**values, GATE: judged, FLOOR_GATE: floor_judged}


def metric_names() -> List[str]:
    return list(GateRule().with_gates(scores(Counts())))


def _computations(
    name: str = NAME,
    eval_config=None,
    model_names: Optional[List[str]] = None,
    **rule: Any,
) -> metric_types.MetricComputations:
    model_name = (model_names or [""])[0]
    # example_weighted=None: the keys TFMA builds for thresholds named in a MetricsSpec.
    keys = {n: metric_types.MetricKey(name=n, model_name=model_name, example_weighted=None) for n in metric_names()}
    return [
        metric_types.MetricComputation(
            keys=list(keys.values()),
            preprocessors=[metric_types.FeaturePreprocessor(feature_keys=list(FEATURES))],
            combiner=_Combiner(keys, GateRule(**rule)),
        )
    ]


class FractionOfTeacher(metric_types.Metric):
    """Student vs teacher on the same examples; see the module docstring."""

    def __init__(
        self,
        name: str = NAME,
        gate: str = "point",
        min_slice_examples: int = 100,
        bootstrap_samples: int = 1000,
        seed: int = 0,
    ):
        super().__init__(
            _computations,
            name=name,
            gate=gate,
            min_slice_examples=min_slice_examples,
            bootstrap_samples=bootstrap_samples,
            seed=seed,
        )


metric_types.register_metric(FractionOfTeacher)


def eval_config(
    threshold: float,
    per_language_floor: Optional[float],
    rule: GateRule = GateRule(),
    teacher_min_exact_match: Optional[float] = None,
) -> tfma.EvalConfig:
    """The Evaluator's config: overall, per-language and per-intent slices; the blessing gate
    on the overall slice and the optional floor on every language slice, both by `rule`; and
    the teacher checks on the overall slice and every language slice: the teacher's exact match
    at least `teacher_min_exact_match` (None: not checked), and the lower end of the fraction's
    interval at most `ABOVE_TEACHER_BOUND` (not checked without an interval, `bootstrap_samples`
    0, where the lower end is NaN on every slice)."""
    bound = lambda lower=None, upper=None: tfma.MetricThreshold(  # noqa: E731
        value_threshold=tfma.GenericValueThreshold(
            lower_bound=None if lower is None else {"value": lower},
            upper_bound=None if upper is None else {"value": upper},
        )
    )
    spec = tfma.MetricsSpec(
        metrics=[
            tfma.MetricConfig(
                class_name="FractionOfTeacher", module=__name__, config=json.dumps(dataclasses.asdict(rule))
            )
        ],
    )
    overall, languages = tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LANG])

    def add(metric: str, slices: List[tfma.SlicingSpec], threshold: tfma.MetricThreshold) -> None:
        # Thresholds in `per_slice_thresholds` bind to the named slices only.
        spec.per_slice_thresholds[metric].thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=slices, threshold=threshold)
        )

    add(GATE, [overall], bound(lower=threshold))
    if per_language_floor is not None:
        add(FLOOR_GATE, [languages], bound(lower=per_language_floor))
    if teacher_min_exact_match is not None:
        add(TEACHER_GATE, [overall, languages], bound(lower=teacher_min_exact_match))
    if rule.bootstrap_samples:
        add(ABOVE_TEACHER_GATE, [overall, languages], bound(upper=ABOVE_TEACHER_BOUND))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serve_examples")],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[LANG]),
            tfma.SlicingSpec(feature_keys=[INTENT]),
        ],
        metrics_specs=[spec],
    )
