"""The teacher-inference job's composite transforms on their own, in-memory Beam, a tiny teacher."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.teacher_inference import (
    DEAD,
    ROWS,
    SPLIT_KEY,
    CountRowsPerSplit,
    LabelWithTeacher,
    ReadRowsToLabel,
)
from schemas.examples import decode, encode
from teacher.config import TeacherInferenceConfig
from tests.beam_jobs.test_teacher_inference import INTENTS, TAGS, _teacher
from tests.conftest import beam_test_pipeline, example_row, write_examples


def _read_row(row, split):
    """`row` as ReadRowsToLabel gives it: decoded from its tf.Example, with its split."""
    return {**decode(encode(row)), SPLIT_KEY: [split]}


def _soft_label_shape(row):
    """id, split, and the intent logits and words of the slot logits (checked against the labels)."""
    assert row["teacher_intent"] in INTENTS and set(row["teacher_slot_tags"]) <= set(TAGS)
    assert row["augmented"] == 0 and row["aug_method"] == ""
    return row["id"][0], row[SPLIT_KEY], len(row["teacher_intent_logits"]), len(row["teacher_slot_logits"]) // len(TAGS)


def test_read_rows_to_label_tags_augmented_rows_with_the_train_split(tmp_path):
    dataset, augmented = str(tmp_path / "ds"), str(tmp_path / "aug")
    rows = [example_row(0, "turn on", "on", ["O", "O"], "eval"), example_row(1, "on", "on", ["O"], "test")]
    write_examples(dataset, rows)
    write_examples(augmented, [{**example_row(2, "turn off", "off", ["O", "O"], "train"), "augmented": 1}])
    with beam_test_pipeline() as p:
        splits = p | ReadRowsToLabel(dataset, augmented) | beam.Map(lambda r: (r["id"][0], r[SPLIT_KEY]))
        assert_that(splits, equal_to([("t:eval:0", ["eval"]), ("t:test:1", ["test"]), ("t:train:2", ["train"])]))


def test_label_with_teacher_labels_rows_and_dead_letters_the_ones_it_cannot_take(tmp_path):
    teacher = _teacher(tmp_path)
    rows = [
        _read_row(example_row(0, "turn on the light", "on", ["O"] * 4, "train"), "train"),
        _read_row(example_row(1, "turn off the fan", "off", ["O"] * 4, "test"), "test"),
        _read_row(example_row(2, " ".join(["light"] * 40), "on", ["O"] * 40, "train"), "train"),
    ]
    inference = TeacherInferenceConfig(min_batch_size=1, max_batch_size=2, precision="fp32", max_length=16)
    with beam_test_pipeline() as p:
        labelled = p | beam.Create(rows) | LabelWithTeacher(inference, teacher, (INTENTS, TAGS), (INTENTS, TAGS), False)
        out = labelled[ROWS] | "Out" >> beam.Map(_soft_label_shape)
        dead = labelled[DEAD] | "Dead" >> beam.Map(lambda d: (d["stage"], d["code"], d["location"]))
        assert_that(out, equal_to([("t:train:0", ["train"], 2, 4), ("t:test:1", ["test"], 2, 4)]))
        assert_that(dead, equal_to([("encode", "encode_failed", "t:train:2")]), label="DeadLetters")


def test_count_rows_per_split_counts_each_kind_in_one_combine():
    def rows(*splits):
        return [{SPLIT_KEY: [split]} for split in splits]

    with beam_test_pipeline() as p:
        rows_in = p | "In" >> beam.Create(rows("train", "train", "eval"))
        rows_out = p | "Out" >> beam.Create(rows("train"))
        records = {"in": rows_in, "out": rows_out} | CountRowsPerSplit()
        assert_that(
            records,
            equal_to(
                [
                    {"kind": "in", "split": "train", "count": 2},
                    {"kind": "in", "split": "eval", "count": 1},
                    {"kind": "out", "split": "train", "count": 1},
                ]
            ),
        )
