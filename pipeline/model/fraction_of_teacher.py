"""TFMA metric: the student's and the teacher's intent accuracy, slot F1 and exact match on the
same eval examples, and their ratio, **fraction of teacher** (the paper's headline number).

The student's predictions come from the model (`intent`, `slot_tags` outputs of the
`serve_examples` signature); the teacher's from the `teacher_intent` / `teacher_slot_tags`
columns that teacher inference wrote into the examples; gold labels from `intent` /
`slot_tags`. A `MetricThreshold` on `fraction_of_teacher_exact_match` gates the blessing.
This module is installed with the project so it imports wherever the Evaluator runs.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

NAME = "fraction_of_teacher"
FEATURES = ("intent", "slot_tags", "teacher_intent", "teacher_slot_tags")
WHO = ("student", "teacher")
RATIOS = ("exact_match", "intent_accuracy", "slot_f1")
HEADLINE = "fraction_of_teacher_exact_match"


def _strings(value) -> List[str]:
    if value is None:
        return []
    flat = np.asarray(value, dtype=object).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat]


def bio_spans(tags: Sequence[str]) -> Set[Tuple[int, int, str]]:
    """(start, end, slot) word spans of a BIO sequence; a stray I- starts a span."""
    spans, start, name = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        continues = tag.startswith("I-") and name == tag[2:]
        if start is not None and not continues:
            spans.add((start, i, name))
            start, name = None, None
        if tag.startswith("B-") or (tag.startswith("I-") and not continues):
            start, name = i, tag[2:]
    return spans


class _Counts:
    __slots__ = ("examples", "intent", "exact", "tp", "fp", "fn")

    def __init__(self) -> None:
        self.examples = 0
        self.intent = {w: 0 for w in WHO}
        self.exact = {w: 0 for w in WHO}
        self.tp = {w: 0 for w in WHO}
        self.fp = {w: 0 for w in WHO}
        self.fn = {w: 0 for w in WHO}

    def add(self, who: str, gold_intent: str, gold_tags: List[str], intent: str, tags: List[str]) -> None:
        tags = (tags + ["O"] * len(gold_tags))[: len(gold_tags)]
        gold, pred = bio_spans(gold_tags), bio_spans(tags)
        self.intent[who] += intent == gold_intent
        self.exact[who] += intent == gold_intent and tags == gold_tags
        self.tp[who] += len(gold & pred)
        self.fp[who] += len(pred - gold)
        self.fn[who] += len(gold - pred)

    def merge(self, other: "_Counts") -> None:
        self.examples += other.examples
        for field in ("intent", "exact", "tp", "fp", "fn"):
            mine, theirs = getattr(self, field), getattr(other, field)
            for w in WHO:
                mine[w] += theirs[w]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def scores(counts: _Counts) -> Dict[str, float]:
    """All metric values by name, from accumulated counts."""
    out: Dict[str, float] = {"eval_examples": float(counts.examples)}
    for w in WHO:
        out[f"{w}_intent_accuracy"] = _ratio(counts.intent[w], counts.examples)
        out[f"{w}_exact_match"] = _ratio(counts.exact[w], counts.examples)
        precision = _ratio(counts.tp[w], counts.tp[w] + counts.fp[w])
        recall = _ratio(counts.tp[w], counts.tp[w] + counts.fn[w])
        if counts.tp[w] + counts.fp[w] + counts.fn[w] == 0:
            out[f"{w}_slot_f1"] = 1.0  # no slots anywhere and none predicted
        elif counts.tp[w] == 0:
            out[f"{w}_slot_f1"] = 0.0
        else:
            out[f"{w}_slot_f1"] = 2 * precision * recall / (precision + recall)
    for metric in RATIOS:
        out[f"fraction_of_teacher_{metric}"] = _ratio(out[f"student_{metric}"], out[f"teacher_{metric}"])
    return out


class _Combiner(beam.CombineFn):
    def __init__(self, keys: Dict[str, metric_types.MetricKey]):
        self._keys = keys

    def create_accumulator(self) -> _Counts:
        return _Counts()

    def add_input(self, counts: _Counts, element: metric_types.StandardMetricInputs) -> _Counts:
        features, predictions = element.features, element.predictions
        gold_intent = _strings(features["intent"])
        if not gold_intent:  # rows without gold labels cannot be scored
            return counts
        gold_tags = _strings(features["slot_tags"])
        counts.examples += 1
        counts.add("student", gold_intent[0], gold_tags, _strings(predictions["intent"])[0],
                   [t for t in _strings(predictions["slot_tags"]) if t])
        counts.add("teacher", gold_intent[0], gold_tags, _strings(features["teacher_intent"])[0],
                   _strings(features["teacher_slot_tags"]))
        return counts

    def merge_accumulators(self, accumulators: Iterable[_Counts]) -> _Counts:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for counts in accumulators:
            result.merge(counts)
        return result

    def extract_output(self, counts: _Counts) -> Dict[metric_types.MetricKey, float]:
        values = scores(counts)
        return {key: values[name] for name, key in self._keys.items()}


def metric_names() -> List[str]:
    return list(scores(_Counts()))


def _computations(name: str = NAME, eval_config=None, model_names: Optional[List[str]] = None) -> metric_types.MetricComputations:
    model_name = (model_names or [""])[0]
    # example_weighted=None: the keys TFMA builds for thresholds named in a MetricsSpec.
    keys = {n: metric_types.MetricKey(name=n, model_name=model_name, example_weighted=None) for n in metric_names()}
    return [
        metric_types.MetricComputation(
            keys=list(keys.values()),
            preprocessors=[metric_types.FeaturePreprocessor(feature_keys=list(FEATURES))],
            combiner=_Combiner(keys),
        )
    ]


class FractionOfTeacher(metric_types.Metric):
    """Student vs teacher on the same examples; see the module docstring."""

    def __init__(self, name: str = NAME):
        super().__init__(_computations, name=name)


metric_types.register_metric(FractionOfTeacher)


def eval_config(threshold: float, per_language_floor: Optional[float]) -> tfma.EvalConfig:
    """The Evaluator's config: overall, per-language and per-intent slices; the blessing gate."""
    lower = lambda v: tfma.MetricThreshold(  # noqa: E731
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": v})
    )
    # Thresholds in `per_slice_thresholds` bind to the named slices only: the gate is on the
    # overall slice, the optional floor on every language slice (not on the intent slices).
    spec = tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(class_name="FractionOfTeacher", module=__name__)],
    )
    thresholds = spec.per_slice_thresholds[HEADLINE].thresholds
    thresholds.append(tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=lower(threshold)))
    if per_language_floor is not None:
        thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec(feature_keys=["lang"])], threshold=lower(per_language_floor))
        )
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serve_examples")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["lang"]), tfma.SlicingSpec(feature_keys=["intent"])],
        metrics_specs=[spec],
    )
