"""What TFMA cannot hold, recomputed: the metric's keys are fixed when the eval config is
written, but intents and slot types depend on the data. So the evaluated model is run on the
Evaluator's own examples, as the Evaluator ran it (`serve_examples`), and scored with the
TFMA metric's own accumulator; its overall scores are checked against TFMA's."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from review.artifacts import eval_split, read_examples
from review.run_store import Run
from schemas.examples import decode
from schemas.features import (
    INTENT,
    OUTSIDE_TAG,
    SLOT_TAGS,
    TEACHER_INTENT,
    TEACHER_SLOT_TAGS,
    Span,
    bio_spans,
)

TOP_CONFUSIONS = 10
EXAMPLE_BATCH = 256
WHO = ("student", "teacher")
# How a gold slot span can be got wrong, and a predicted span that matches none.
SPAN_ERRORS = ("boundary", "wrong slot", "missed", "spurious")
# What a row's exact match can lose by.
ROW_ERRORS = ("intent", "slots", "intent and slots")


def span_errors(gold_tags: Sequence[str], predicted_tags: Sequence[str]) -> Dict[str, int]:
    """The slot spans one prediction gets wrong, by kind: a gold span that a predicted span of its
    slot overlaps with other ends ("boundary"), that only other slots' spans overlap ("wrong
    slot"), that nothing overlaps ("missed"); and a predicted span that overlaps no gold span
    ("spurious"). The first three add up to the gold spans not predicted exactly."""
    return _span_errors(set(bio_spans(gold_tags)), set(bio_spans(predicted_tags)))


def _span_errors(gold: Set[Span], predicted: Set[Span]) -> Dict[str, int]:
    def overlapping(span: Span, spans: Set[Span]) -> List[Span]:
        return [other for other in spans if other[0] < span[1] and span[0] < other[1]]

    errors = dict.fromkeys(SPAN_ERRORS, 0)
    for span in gold - predicted:
        slots = {slot for _, _, slot in overlapping(span, predicted)}
        errors["boundary" if span[2] in slots else "wrong slot" if slots else "missed"] += 1
    errors["spurious"] = sum(not overlapping(span, gold) for span in predicted - gold)
    return errors


def row_error(gold: Tuple[str, Sequence[str]], predicted: Tuple[str, Sequence[str]]) -> Optional[str]:
    """What a prediction (intent, tags) gets wrong of the gold row: one of `ROW_ERRORS`, or None."""
    wrong = [part for part, g, p in zip(("intent", "slots"), gold, predicted) if list(g) != list(p)]
    return " and ".join(wrong) or None


def _span_counts() -> Dict[str, int]:
    return {"tp": 0, "fp": 0, "fn": 0}


def precision_recall_f1(counts: Dict[str, int]) -> Dict[str, float]:
    """The span counts with precision, recall and F1 (NaN where undefined)."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return {**counts, "precision": precision, "recall": recall, "f1": f1}


def _confusion_matrices(
    confusion: Dict[str, Dict[Tuple[str, str], int]],
) -> Tuple[List[str], Dict[str, List[List[int]]]]:
    """(labels, {who: matrix[gold][predicted]}) over every label either side used."""
    labels = sorted({label for cells in confusion.values() for pair in cells for label in pair})
    index = {label: i for i, label in enumerate(labels)}
    matrices = {}
    for who, cells in confusion.items():
        matrix = [[0] * len(labels) for _ in labels]
        for (gold, pred), n in cells.items():
            matrix[index[gold]][index[pred]] = n
        matrices[who] = matrix
    return labels, matrices


def rescore_predictions(run: Run, overall_tfma: Dict[str, float]) -> Optional[Dict[str, Any]]:
    """Intent confusion and slot F1 per slot type of student and teacher on the Evaluator's
    examples, or None when the run has no evaluated model."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from models import fraction_of_teacher  # imports Beam and TFMA: only when re-scoring

    examples, model = run.artifact("Evaluator", "examples", "inputs"), run.artifact("Evaluator", "model", "inputs")
    evaluator = run.execution("Evaluator")
    if examples is None or model is None or evaluator is None:
        return None
    split = eval_split(evaluator)
    serve = tf.saved_model.load(path_utils.serving_model_path(model.uri)).signatures["serve_examples"]
    records = read_examples(examples.uri, split)
    counts = fraction_of_teacher.Counts()
    confusion: Dict[str, Dict[Tuple[str, str], int]] = {who: {} for who in WHO}
    slots: Dict[str, Dict[str, Dict[str, int]]] = {who: {} for who in WHO}
    support: Dict[str, int] = {}
    errors = {who: dict.fromkeys(SPAN_ERRORS, 0) for who in WHO}
    # Rows one side gets right and the other not, by what the other got wrong.
    lost = {who: dict.fromkeys(ROW_ERRORS, 0) for who in WHO}
    for start in range(0, len(records), EXAMPLE_BATCH):
        batch = records[start : start + EXAMPLE_BATCH]
        out = serve(examples=tf.constant(batch))
        intents = [v.decode() for v in out["intent"].numpy()]
        tag_rows = [[t.decode() for t in row if t] for row in out["slot_tags"].numpy()]
        for record, intent, tags in zip(batch, intents, tag_rows):
            row = decode(record)
            if not row.get(INTENT):
                continue
            gold, gold_tags = row[INTENT][0], row.get(SLOT_TAGS, [])
            predicted = {"student": (intent, tags), "teacher": (row[TEACHER_INTENT][0], row.get(TEACHER_SLOT_TAGS, []))}
            counts.add_example(gold, gold_tags, **predicted)
            wrong = {}
            for who, (pred, pred_tags) in predicted.items():
                confusion[who][(gold, pred)] = confusion[who].get((gold, pred), 0) + 1
                aligned = (list(pred_tags) + [OUTSIDE_TAG] * len(gold_tags))[: len(gold_tags)]
                wrong[who] = row_error((gold, gold_tags), (pred, aligned))
                gold_spans, pred_spans = set(bio_spans(gold_tags)), set(bio_spans(aligned))
                for kind, n in _span_errors(gold_spans, pred_spans).items():
                    errors[who][kind] += n
                for kind, spans in (
                    ("tp", gold_spans & pred_spans),
                    ("fp", pred_spans - gold_spans),
                    ("fn", gold_spans - pred_spans),
                ):
                    for _, _, slot in spans:
                        slots[who].setdefault(slot, _span_counts())[kind] += 1
                if who == "student":
                    for _, _, slot in gold_spans:
                        support[slot] = support.get(slot, 0) + 1
            for who, other in (WHO, WHO[::-1]):
                if wrong[who] and not wrong[other]:
                    lost[who][wrong[who]] += 1
    # Point values only: the intervals are resampled, so they are not recomputed here.
    scores = fraction_of_teacher.scores(counts, bootstrap_samples=0)
    compared = [k for k in scores if not math.isnan(scores[k]) and k in overall_tfma]
    labels, matrices = _confusion_matrices(confusion)
    top = sorted(((n, g, p) for (g, p), n in confusion["student"].items() if g != p), reverse=True)[:TOP_CONFUSIONS]
    return {
        "split": split,
        "eval_examples": counts.examples,
        "scores": scores,
        "matches_tfma": all(math.isclose(scores[k], overall_tfma[k], rel_tol=1e-6, abs_tol=1e-9) for k in compared),
        "labels": labels,
        "confusion": matrices,
        "top_confusions": [
            {"gold": g, "predicted": p, "student": n, "teacher": confusion["teacher"].get((g, p), 0)} for n, g, p in top
        ],
        "span_errors": errors,
        "rows_lost": lost,
        "slot_f1": {
            name: {
                "support": support.get(name, 0),
                **{who: precision_recall_f1(slots[who].get(name, _span_counts())) for who in WHO},
            }
            for name in sorted(set(slots["student"]) | set(slots["teacher"]))
        },
    }
