import math

import numpy as np
from tensorflow_model_analysis.metrics import metric_types

from pipeline.model import fraction_of_teacher as fot


def test_bio_spans():
    assert fot.bio_spans(["O", "B-a", "I-a", "B-a", "O", "I-b"]) == {(1, 3, "a"), (3, 4, "a"), (5, 6, "b")}


def _element(gold, gold_tags, student, student_tags, teacher, teacher_tags):
    as_bytes = lambda xs: np.array([x.encode() for x in xs], dtype=object)  # noqa: E731
    return metric_types.StandardMetricInputs(
        features={"intent": as_bytes([gold]), "slot_tags": as_bytes(gold_tags),
                  "teacher_intent": as_bytes([teacher]), "teacher_slot_tags": as_bytes(teacher_tags)},
        # The student's slot tags come padded with "" to the batch's longest row.
        predictions={"intent": as_bytes([student]), "slot_tags": as_bytes(student_tags + ["", ""])},
    )


def test_combiner_scores_student_and_teacher_on_the_same_rows():
    keys = {n: metric_types.MetricKey(name=n) for n in fot.metric_names()}
    combiner = fot._Combiner(keys)
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
    counts = fot._Counts()
    counts.examples = 2
    counts.exact["student"] = 1
    assert math.isnan(fot.scores(counts)["fraction_of_teacher_exact_match"])


def test_eval_config_gates_the_overall_slice_and_optional_language_floor():
    config = fot.eval_config(0.95, 0.9)
    thresholds = config.metrics_specs[0].per_slice_thresholds[fot.HEADLINE].thresholds
    assert [(list(t.slicing_specs[0].feature_keys), t.threshold.value_threshold.lower_bound.value) for t in thresholds] == [
        ([], 0.95), (["lang"], 0.9)
    ]
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["lang"], ["intent"]]
