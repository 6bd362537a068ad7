import json
import math

import numpy as np
from tensorflow_model_analysis.metrics import metric_types

from models import fraction_of_teacher as fot
from schemas.features import bio_spans


def test_bio_spans():
    assert bio_spans(["O", "B-a", "I-a", "B-a", "O", "I-b"]) == [(1, 3, "a"), (3, 4, "a"), (5, 6, "b")]
    # conlleval: an I- of another slot opens a span; I- continues only its own slot.
    assert bio_spans(["I-a", "I-a", "I-b", "B-b", "I-b"]) == [(0, 2, "a"), (2, 3, "b"), (3, 5, "b")]


def _element(gold, gold_tags, student, student_tags, teacher, teacher_tags):
    as_bytes = lambda xs: np.array([x.encode() for x in xs], dtype=object)  # noqa: E731
    return metric_types.StandardMetricInputs(
        features={
            "intent": as_bytes([gold]),
            "slot_tags": as_bytes(gold_tags),
            "teacher_intent": as_bytes([teacher]),
            "teacher_slot_tags": as_bytes(teacher_tags),
        },
        # The student's slot tags come padded with "" to the batch's longest row.
        predictions={"intent": as_bytes([student]), "slot_tags": as_bytes(student_tags + ["", ""])},
    )


def test_combiner_scores_student_and_teacher_on_the_same_rows():
    keys = {n: metric_types.MetricKey(name=n) for n in fot.metric_names()}
    combiner = fot._Combiner(keys, fot.GateRule())
    acc = combiner.create_accumulator()
    rows = [
        # gold                      student (right)           teacher (right)
        _element("on", ["O", "B-room"], "on", ["O", "B-room"], "on", ["O", "B-room"]),
        # student wrong slot, teacher right
        _element("on", ["O", "B-room"], "on", ["O", "O"], "on", ["O", "B-room"]),
        # both wrong intent
        _element("off", ["O"], "on", ["O"], "on", ["O"]),
        # student right, teacher wrong slot
        _element("off", ["B-dev"], "off", ["B-dev"], "off", ["O"]),
    ]
    half = [combiner.add_input(combiner.create_accumulator(), r) for r in rows[:2]]
    acc = combiner.merge_accumulators([combiner.add_input(combiner.add_input(acc, rows[2]), rows[3])] + half)
    out = {k.name: v for k, v in combiner.extract_output(acc).items()}
    assert out["eval_examples"] == 4
    assert out["student_exact_match"] == 0.5 and out["teacher_exact_match"] == 0.5
    assert out["student_intent_accuracy"] == 0.75 == out["teacher_intent_accuracy"]
    assert out["fraction_of_teacher_exact_match"] == 1.0
    # student: tp 2 (room, dev), fn 1 (room) -> P 1, R 2/3; teacher: tp 2, fn 1 (dev)
    assert math.isclose(out["student_slot_f1"], 0.8) and math.isclose(out["teacher_slot_f1"], 0.8)


def test_fraction_is_nan_when_the_teacher_gets_nothing_right():
    counts = fot.Counts()
    counts.add_example("on", ["O"], student=("on", ["O"]), teacher=("off", ["O"]))
    counts.add_example("on", ["O"], student=("off", ["O"]), teacher=("off", ["O"]))
    assert math.isnan(fot.scores(counts)["fraction_of_teacher_exact_match"])


def _counts(pairs):
    """Counts from (student exact, teacher exact) pairs on one-word, no-slot examples."""
    counts = fot.Counts()
    for student, teacher in pairs:
        counts.add_example(
            "on", ["O"], student=("on" if student else "off", ["O"]), teacher=("on" if teacher else "off", ["O"])
        )
    return counts


def test_bootstrap_interval_matches_brute_force_resampling_and_is_reproducible():
    pairs = [(1, 1)] * 150 + [(0, 1)] * 20 + [(1, 0)] * 10 + [(0, 0)] * 20
    counts = _counts(pairs)
    got = fot.scores(counts, bootstrap_samples=4000, seed=3)
    # Brute force: resample the ten examples (student and teacher together), recompute the ratio.
    rng = np.random.default_rng(7)
    ratios = []
    for _ in range(4000):
        sample = [pairs[i] for i in rng.integers(0, len(pairs), len(pairs))]
        teacher = sum(t for _, t in sample)
        if teacher:
            ratios.append(sum(s for s, _ in sample) / teacher)
    low, high = np.percentile(ratios, [2.5, 97.5])
    assert got["fraction_of_teacher_exact_match"] == 160 / 170
    assert abs(got["fraction_of_teacher_exact_match_lower"] - low) < 0.015
    assert abs(got["fraction_of_teacher_exact_match_upper"] - high) < 0.015
    assert got == fot.scores(counts, bootstrap_samples=4000, seed=3)  # seeded
    assert got["fraction_of_teacher_exact_match_lower"] < 160 / 170 < got["fraction_of_teacher_exact_match_upper"]


def test_lower_bound_gate_refuses_what_the_point_gate_passes():
    counts = _counts([(1, 1)] * 19 + [(0, 1)])  # 19 of the teacher's 20: point 0.95
    values = fot.scores(counts)
    point, lower = fot.GateRule("point", 10), fot.GateRule("lower_bound", 10)
    assert point.with_gates(values)[fot.GATE] == 0.95 >= 0.95
    assert lower.with_gates(values)[fot.GATE] == values["fraction_of_teacher_exact_match_lower"] < 0.95
    # A slice smaller than min_slice_examples fails the floor only when clearly below it.
    small = fot.GateRule("point", 100).with_gates(values)
    assert small[fot.FLOOR_GATE] == values["fraction_of_teacher_exact_match_upper"] >= 0.95
    assert fot.GateRule("point", 100).with_gates(fot.scores(counts, bootstrap_samples=0))[fot.FLOOR_GATE] == math.inf


def test_eval_config_gates_the_overall_slice_and_optional_language_floor():
    config = fot.eval_config(0.95, 0.9, fot.GateRule("lower_bound", 50))
    spec = config.metrics_specs[0]
    [gate] = spec.per_slice_thresholds[fot.GATE].thresholds
    [floor] = spec.per_slice_thresholds[fot.FLOOR_GATE].thresholds
    assert (list(gate.slicing_specs[0].feature_keys), gate.threshold.value_threshold.lower_bound.value) == ([], 0.95)
    assert (list(floor.slicing_specs[0].feature_keys), floor.threshold.value_threshold.lower_bound.value) == (
        ["lang"],
        0.9,
    )
    assert json.loads(spec.metrics[0].config)["gate"] == "lower_bound"
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["lang"], ["intent"]]
