"""bench.ablate's learning-curve subsample: every gold row, a nested fraction of the augmented ones."""

import tensorflow as tf

from bench.ablate import (
    LOW_CONFIDENCE,
    SEEN,
    UNSEEN,
    intent_rows,
    split_records,
    subsample_augmented,
    teacher_confidence,
    teacher_exact_match_by,
    teacher_intent_accuracy_by,
    word_coverage,
)
from schemas.examples import decode
from tests.conftest import example_row, write_examples


def _ids(path):
    return [decode(r.numpy())["id"][0] for r in tf.data.TFRecordDataset([path], compression_type="GZIP")]


def test_subsample_keeps_gold_rows_and_a_nested_fraction_of_augmented_rows(tmp_path):
    rows = [example_row(i, f"turn on light {i}", "on", ["O"] * 4, "train") for i in range(400)]
    for row in rows[20:]:
        row.update(augmented=1, aug_method="word_swap")
    write_examples(tmp_path / "ds", rows)
    pattern = str(tmp_path / "ds" / "Split-train" / "*.gz")
    kept = {}
    for fraction in (0.0, 0.25, 0.5, 1.0):
        out = tmp_path / f"f{fraction}"
        out.mkdir()
        path, counts, _ = subsample_augmented(pattern, fraction, str(out))
        kept[fraction] = set(_ids(path))
        assert counts["gold"] == 20 and counts["augmented"] == len(kept[fraction]) - 20
    assert kept[0.0] == {f"t:train:{i}" for i in range(20)}
    assert len(kept[1.0]) == 400
    assert kept[0.0] < kept[0.25] < kept[0.5] < kept[1.0]
    assert 0.15 < (len(kept[0.25]) - 20) / 380 < 0.35 and 0.4 < (len(kept[0.5]) - 20) / 380 < 0.6


def test_subsample_leaves_out_the_rows_of_named_methods(tmp_path):
    rows = [example_row(i, f"turn on light {i}", "on", ["O"] * 4, "train") for i in range(30)]
    for i, row in enumerate(rows[10:]):
        row.update(augmented=1, aug_method=("word_swap", "cross_lingual")[i % 2])
    write_examples(tmp_path / "ds", rows)
    pattern = str(tmp_path / "ds" / "Split-train" / "*.gz")
    path, counts, left_out = subsample_augmented(pattern, 1.0, str(tmp_path), ["cross_lingual", "round_trip"])
    kept = [decode(r.numpy()) for r in tf.data.TFRecordDataset([path], compression_type="GZIP")]
    assert counts == {"gold": 10, "augmented": 10} and left_out == {"cross_lingual": 10, "round_trip": 0}
    assert {row["aug_method"][0] for row in kept if row.get("augmented", [0])[0]} == {"word_swap"}
    assert len(kept) == 20


def _with_teacher(row, intent_logits, slot_logits):
    return {**row, "teacher_intent_logits": intent_logits, "teacher_slot_logits": slot_logits}


def test_teacher_confidence_is_the_least_top_probability_of_intent_and_words(tmp_path):
    sure, unsure_word = [10.0, 0.0], [0.0, 0.0]  # top probabilities ~1.0 and 0.5
    rows = [
        _with_teacher(example_row(0, "a b", "on", ["O", "O"], "train"), sure, sure + sure),
        _with_teacher(example_row(1, "a b", "on", ["O", "O"], "train"), sure, sure + unsure_word),
        _with_teacher(example_row(2, "a b", "on", ["O", "O"], "train"), [0.0, 0.0, 0.0], sure + sure),
    ]
    write_examples(tmp_path, rows)
    confidence = [teacher_confidence(f) for _, f in split_records(str(tmp_path / "Split-train" / "*.gz"))]
    assert confidence[0] > 0.99 and abs(confidence[1] - 0.5) < 1e-6 and abs(confidence[2] - 1 / 3) < 1e-6


def test_subsample_leaves_out_unsure_teacher_rows_but_never_gold_rows(tmp_path):
    sure, unsure = [10.0, 0.0], [0.0, 0.0]
    rows = []
    for i in range(8):
        row = _with_teacher(example_row(i, "a b", "on", ["O", "O"], "train"), sure, sure + (sure, unsure)[i % 2])
        rows.append({**row, "augmented": 1, "aug_method": "word_swap"} if i >= 4 else row)
    write_examples(tmp_path / "ds", rows)
    pattern = str(tmp_path / "ds" / "Split-train" / "*.gz")
    _, counts, left_out = subsample_augmented(pattern, 1.0, str(tmp_path), min_teacher_confidence=0.6)
    assert counts == {"gold": 4, "augmented": 2} and left_out == {f"{LOW_CONFIDENCE}: word_swap": 2}


def test_word_coverage_splits_eval_by_words_no_gold_training_row_has(tmp_path):
    train = [
        example_row(0, "turn on light", "on", ["O", "O", "B-device"], "train"),
        {**example_row(1, "turn on lamp", "on", ["O", "O", "B-device"], "train"), "augmented": 1},
        example_row(2, "licht an", "on", ["B-device", "O"], "train", lang="de"),
    ]
    evaluated = [
        ("Turn ON light", "on", ["O", "O", "B-device"], "en"),  # every word in a gold row, any case
        ("turn on lamp", "on", ["O", "O", "B-device"], "en"),  # "lamp" only in an augmented row
        ("turn on licht", "off", ["O", "O", "B-device"], "en"),  # "licht" only in German rows
        ("licht an", "on", ["B-device", "O"], "de"),
    ]
    rows = list(train)
    for i, (text, intent, tags, lang) in enumerate(evaluated):
        teacher_right = i != 2
        teacher = {"teacher_intent": intent if teacher_right else "on", "teacher_slot_tags": tags}
        rows.append({**example_row(i, text, intent, tags, "eval", lang=lang), **teacher})
    write_examples(tmp_path, rows)
    key = word_coverage(str(tmp_path / "Split-train" / "*.gz"))
    keys = [key(features) for _, features in split_records(str(tmp_path / "Split-eval" / "*.gz"))]
    assert keys == [SEEN, UNSEEN, UNSEEN, SEEN]
    teacher = teacher_exact_match_by(str(tmp_path / "Split-eval" / "*.gz"), key)
    assert teacher == {SEEN: 1.0, UNSEEN: 0.5}


def test_intent_rows_groups_eval_by_the_gold_training_rows_of_its_intent(tmp_path):
    rows = [example_row(i, f"turn on light {i}", "on", ["O"] * 4, "train") for i in range(70)]
    rows += [example_row(70 + i, f"turn off light {i}", "off", ["O"] * 4, "train") for i in range(21)]
    rows += [{**example_row(91 + i, f"stop {i}", "stop", ["O"] * 2, "train"), "augmented": 1} for i in range(300)]
    for i, (intent, teacher_intent) in enumerate([("on", "on"), ("off", "off"), ("off", "on"), ("stop", "stop")]):
        row = example_row(i, "turn it", intent, ["O", "O"], "eval")
        rows.append({**row, "teacher_intent": teacher_intent, "teacher_slot_tags": ["O", "O"]})
    write_examples(tmp_path, rows)
    key = intent_rows(str(tmp_path / "Split-train" / "*.gz"))
    keys = [key(features) for _, features in split_records(str(tmp_path / "Split-eval" / "*.gz"))]
    # "on" has 70 gold rows, "off" 21; "stop" only augmented ones, so none.
    assert keys == ["61-200", "21-60", "21-60", "0-20"]
    teacher = teacher_intent_accuracy_by(str(tmp_path / "Split-eval" / "*.gz"), key)
    assert list(teacher.items()) == [("0-20", 1.0), ("21-60", 0.5), ("61-200", 1.0)]  # in bucket order
