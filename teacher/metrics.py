"""Joint NLU metrics per language: intent accuracy, slot F1 (spans, conlleval rules), exact match."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Sequence

from schemas.features import bio_spans


class NluMetrics:
    """Accumulates predictions; `result()` gives metrics per language and over "all"."""

    def __init__(self) -> None:
        self._counts: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(
        self, lang: str, gold_intent: str, pred_intent: str, gold_tags: Sequence[str], pred_tags: Sequence[str]
    ) -> None:
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"{len(gold_tags)} gold tags but {len(pred_tags)} predicted")
        gold, pred = set(bio_spans(gold_tags)), set(bio_spans(pred_tags))
        intent_ok = gold_intent == pred_intent
        exact = intent_ok and list(gold_tags) == list(pred_tags)
        for key in (lang, "all"):
            c = self._counts[key]
            c["n"] += 1
            c["intent_correct"] += intent_ok
            c["exact"] += exact
            c["span_tp"] += len(gold & pred)
            c["span_gold"] += len(gold)
            c["span_pred"] += len(pred)

    def result(self) -> Dict[str, Dict[str, float]]:
        out = {}
        for key, c in self._counts.items():
            p = c["span_tp"] / c["span_pred"] if c["span_pred"] else 1.0
            r = c["span_tp"] / c["span_gold"] if c["span_gold"] else 1.0
            out[key] = {
                "examples": c["n"],
                "intent_accuracy": c["intent_correct"] / c["n"],
                "slot_f1": 2 * p * r / (p + r) if p + r else 0.0,
                "exact_match": c["exact"] / c["n"],
            }
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == "all", kv[0])))


def format_table(result: Dict[str, Dict[str, float]]) -> str:
    lines = [f"{'lang':<6}{'n':>7}{'intent acc':>12}{'slot F1':>10}{'exact':>9}"]
    for lang, m in result.items():
        lines.append(
            f"{lang:<6}{m['examples']:>7}{100 * m['intent_accuracy']:>11.2f}%{100 * m['slot_f1']:>9.2f}%"
            f"{100 * m['exact_match']:>8.2f}%"
        )
    return "\n".join(lines)
