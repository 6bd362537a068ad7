import json
import math

import numpy as np
import pytest
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_specs, metric_types

from models import fraction_of_teacher as fot
from schemas.features import LANG, bio_spans


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


def _rows(lang, student_right, teacher_right, both_right, neither=0):
    """(lang, element) pairs: how many examples only the student, only the teacher, both and
    neither got exactly right."""
    outcomes = [(1, 0)] * student_right + [(0, 1)] * teacher_right + [(1, 1)] * both_right + [(0, 0)] * neither
    return [
        (lang, _element("on", ["O"], "on" if s else "off", ["O"], "on" if t else "off", ["O"])) for s, t in outcomes
    ]


def _validate(config, rows):
    """TFMA's validation of `rows` ((lang, element) pairs) under `config`, as the Evaluator runs
    it: TFMA builds the metric from the config, our combiner scores the overall slice and each
    language slice, TFMA's validator checks each slice's values against the thresholds.
    Returns (validation ok: the blessing, {slice: [failed metric names]}, the failures)."""
    [computation] = metric_specs.to_computations(config.metrics_specs, eval_config=config)
    slices = {(): [e for _, e in rows]}
    for lang, element in rows:
        slices.setdefault(((LANG, lang),), []).append(element)
    ok, failed, failures = True, {}, []
    for slice_key, elements in slices.items():
        combiner = computation.combiner
        accumulator = combiner.create_accumulator()
        for element in elements:
            accumulator = combiner.add_input(accumulator, element)
        result = metrics_validator.validate_metrics((slice_key, combiner.extract_output(accumulator)), config)
        ok &= result.validation_ok  # the TFX Evaluator blesses iff every slice validates
        for per_slice in result.metric_validations_per_slice:
            name = "overall" if not slice_key else f"lang={slice_key[0][1]}"
            failed[name] = sorted(f.metric_key.name for f in per_slice.failures)
            failures += [(name, f) for f in per_slice.failures]
    return ok, failed, failures


# A language whose teacher and student agree on most rows: teacher EM 0.9, student 0.85.
HEALTHY = dict(student_right=5, teacher_right=15, both_right=165, neither=15)


def test_teacher_checks_are_thresholds_on_the_overall_and_every_language_slice():
    config = fot.eval_config(0.9, None, fot.GateRule(), teacher_min_exact_match=0.5)
    spec = config.metrics_specs[0]
    assert {fot.TEACHER_GATE, fot.ABOVE_TEACHER_GATE} <= set(fot.metric_names())
    [teacher] = spec.per_slice_thresholds[fot.TEACHER_GATE].thresholds
    [above] = spec.per_slice_thresholds[fot.ABOVE_TEACHER_GATE].thresholds
    for check in (teacher, above):
        assert [list(s.feature_keys) for s in check.slicing_specs] == [[], ["lang"]]
    assert teacher.threshold.value_threshold.lower_bound.value == 0.5
    assert not teacher.threshold.value_threshold.HasField("upper_bound")
    assert above.threshold.value_threshold.upper_bound.value == pytest.approx(fot.ABOVE_TEACHER_BOUND)
    assert not above.threshold.value_threshold.HasField("lower_bound")
    # Without a bootstrap there is no interval (its lower end is NaN everywhere): not checked.
    unbootstrapped = fot.eval_config(0.9, None, fot.GateRule(bootstrap_samples=0), teacher_min_exact_match=0.5)
    assert set(unbootstrapped.metrics_specs[0].per_slice_thresholds) == {fot.GATE, fot.TEACHER_GATE}


def test_a_healthy_teacher_passes_the_teacher_checks():
    config = fot.eval_config(0.9, 0.9, fot.GateRule(min_slice_examples=50), teacher_min_exact_match=0.5)
    ok, failed, _ = _validate(config, _rows("en", **HEALTHY) + _rows("de", **HEALTHY))
    assert ok and failed == {}


def test_a_language_whose_teacher_is_weak_is_not_blessed():
    # th: the teacher gets 34 of 200 right (EM 0.17), the student 30 of those and 6 more: a
    # "fraction" of 1.06 that is no result. The overall slice is healthy enough on its own.
    rows = _rows("en", **HEALTHY) + _rows("de", **HEALTHY) + _rows("th", 6, 4, 30, 160)
    config = fot.eval_config(0.0, None, fot.GateRule(), teacher_min_exact_match=0.5)
    ok, failed, failures = _validate(config, rows)
    assert not ok
    assert failed == {"lang=th": [fot.TEACHER_GATE]}
    [(name, failure)] = failures
    assert failure.metric_value.double_value.value == 34 / 200
    assert failure.metric_threshold.value_threshold.lower_bound.value == 0.5
    # `teacher_min_exact_match: null` turns this check off: the same rows are blessed.
    ok, failed, _ = _validate(fot.eval_config(0.0, None, fot.GateRule(), teacher_min_exact_match=None), rows)
    assert ok and failed == {}


def test_a_language_where_the_student_is_clearly_above_the_teacher_is_not_blessed():
    # de: teacher EM 0.6 (above the minimum), student 0.9: fraction 1.5, interval well above 1.
    # Overall (en's 400 rows and de's 100) the student is at 1.02 of the teacher, inside the noise.
    rows = _rows("en", **HEALTHY) * 2 + _rows("de", 30, 0, 60, 10)
    ok, failed, failures = _validate(fot.eval_config(0.0, None, fot.GateRule(), teacher_min_exact_match=0.5), rows)
    assert not ok and failed == {"lang=de": [fot.ABOVE_TEACHER_GATE]}
    value = failures[0][1].metric_value.double_value.value
    assert 1.0 < value < 1.5
    # A student a little above the teacher, inside the noise, passes: its interval reaches 1.
    ok, failed, _ = _validate(fot.eval_config(0.0, None), _rows("en", **HEALTHY) + _rows("de", 3, 0, 120, 77))
    assert ok and failed == {}


def test_a_language_where_the_teacher_gets_nothing_right_fails_both_checks():
    # th: the fraction is NaN (nothing to be a fraction of); TFMA fails a NaN against any bound.
    rows = _rows("en", **HEALTHY) + _rows("th", 5, 0, 0, 15)
    ok, failed, failures = _validate(fot.eval_config(0.0, None, fot.GateRule(), teacher_min_exact_match=0.5), rows)
    assert not ok and failed == {"lang=th": sorted([fot.TEACHER_GATE, fot.ABOVE_TEACHER_GATE])}
    ok, failed, failures = _validate(fot.eval_config(0.0, None), rows)
    assert not ok and failed == {"lang=th": [fot.ABOVE_TEACHER_GATE]}
    assert math.isnan(failures[0][1].metric_value.double_value.value)
