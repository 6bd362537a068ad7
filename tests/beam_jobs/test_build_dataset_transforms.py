"""The dataset job's composite transforms on their own, in-memory Beam and a few rows each."""

import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.build_dataset import (
    DEAD,
    MERGED,
    ROWS,
    AssignSplits,
    CountByKey,
    MergeDuplicateTexts,
    ReadGivenSplits,
    ReportTextsInSeveralSplits,
)
from beam_jobs.config import DataConfig, SplitConfig
from beam_jobs.dataset.rows import assign_split, make_row
from tests.conftest import beam_test_pipeline


def _row(text, group_id, intent="on", lang="en"):
    return make_row(text=text, intent=intent, lang=lang, source="test", group_id=group_id, row_id=f"{group_id}:{text}")


def test_merge_duplicate_texts_keeps_the_row_of_the_smallest_group():
    rows = [_row("turn on the light", "g2"), _row("turn on the light", "g1"), _row("turn off the fan", "g3")]
    with beam_test_pipeline() as p:
        merged = p | beam.Create(rows) | MergeDuplicateTexts()
        kept = merged[ROWS] | "Kept" >> beam.Map(lambda r: (r.group_id, r.text))
        away = merged[MERGED] | "Away" >> beam.Map(lambda r: (r.group_id, r.text))
        assert_that(kept, equal_to([("g1", "turn on the light"), ("g3", "turn off the fan")]), label="KeptRows")
        assert_that(away, equal_to([("g2", "turn on the light")]), label="MergedRows")


def test_assign_splits_puts_every_row_of_a_group_in_the_split_of_its_hash():
    split = SplitConfig(train=0.5, eval=0.25, test=0.25)
    rows = [_row(f"turn on light {i}", f"g{i % 7}") for i in range(40)]
    expected = [(assign_split(r.group_id, 0.5, 0.25), r.group_id) for r in rows]
    with beam_test_pipeline() as p:
        pairs = p | beam.Create(rows) | AssignSplits(split) | beam.MapTuple(lambda s, r: (s, r.group_id))
        assert_that(pairs, equal_to(expected))
    assert len({s for s, _ in expected}) > 1  # the rows do spread


def test_read_given_splits_tags_each_file_with_its_split_and_dead_letters_bad_lines(tmp_path):
    train, eval_ = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train.write_text(json.dumps({"text": "turn on the light", "intent": "on"}) + "\n", encoding="utf-8")
    eval_.write_text(json.dumps({"text": "turn off the fan", "intent": "off"}) + "\n{not json\n", encoding="utf-8")
    data = DataConfig(source="jsonl", languages=["en"])
    with beam_test_pipeline() as p:
        parsed = p | ReadGivenSplits(data, {"train": [str(train)], "eval": [str(eval_)]})
        rows = parsed[ROWS] | "Rows" >> beam.MapTuple(lambda split, r: (split, r.text, r.intent))
        dead = parsed[DEAD] | "Dead" >> beam.Map(lambda d: (d["code"], d["location"]))
        assert_that(rows, equal_to([("train", "turn on the light", "on"), ("eval", "turn off the fan", "off")]))
        assert_that(dead, equal_to([("malformed_json", f"{eval_}:2")]), label="DeadLetters")


def test_a_text_in_two_given_splits_is_reported_once():
    pairs = [
        ("train", _row("turn on the light", "a")),
        ("test", _row("turn on the light", "b")),
        ("train", _row("turn on the light", "c")),
        ("eval", _row("turn off the fan", "d")),
    ]
    with beam_test_pipeline() as p:
        records = p | beam.Create(pairs) | ReportTextsInSeveralSplits()
        expected = {"kind": "shared_text", "key": ["en", "turn on the light"], "count": 1, "splits": ["test", "train"]}
        assert_that(records, equal_to([expected]))


def test_count_by_key_gives_one_record_per_key():
    with beam_test_pipeline() as p:
        records = p | beam.Create(["a", "b", "a"]) | CountByKey("rows", lambda x: ("train", x))
        expected = [{"kind": "rows", "key": ["train", x], "count": n} for x, n in (("a", 2), ("b", 1))]
        assert_that(records, equal_to(expected))
