"""bench.holdout's split: held-out training templates of one language, and nothing of test."""

import pytest

from bench.holdout import HELD_OUT, hold_out_templates, without_methods
from review.artifacts import read_examples
from schemas.examples import decode
from schemas.features import EVAL, TRAIN
from tests.conftest import example_row, write_examples


def _rows(root, split):
    return [decode(r) for r in read_examples(str(root), split)]


def test_held_out_templates_leave_train_and_test_is_never_read(tmp_path):
    rows = [example_row(i, f"zet licht {i} aan", "on", ["O"] * 4, "train", lang="nl") for i in range(10)]
    rows += [example_row(10 + i, f"turn on light {i}", "on", ["O"] * 4, "train") for i in range(4)]
    rows += [example_row(20, "licht uit", "off", ["O", "O"], "eval", lang="nl")]
    rows += [example_row(30, "licht een beetje aan", "on", ["O"] * 4, "test", lang="nl")]
    write_examples(tmp_path / "ds", rows)
    held_out, counts = hold_out_templates(str(tmp_path / "ds"), str(tmp_path / "out"), "nl", 0.3, seed=7)
    assert len(held_out) == 3 and counts == {TRAIN: 11, EVAL: 1, HELD_OUT: 3}
    train, third = _rows(tmp_path / "out", TRAIN), _rows(tmp_path / "out", HELD_OUT)
    assert not held_out & {r["group_id"][0] for r in train}
    assert {r["group_id"][0] for r in third} == held_out and all(r["lang"] == ["nl"] for r in third)
    assert all(":train:" in r["id"][0] for r in train + third)  # the test row is nowhere
    assert [r["text"] for r in _rows(tmp_path / "out", EVAL)] == [["licht uit"]]
    # The draw is the seed's.
    again, _ = hold_out_templates(str(tmp_path / "ds"), str(tmp_path / "again"), "nl", 0.3, seed=7)
    assert again == held_out
    with pytest.raises(ValueError, match="--lang hi: the run's train split has no rows"):
        hold_out_templates(str(tmp_path / "ds"), str(tmp_path / "none"), "hi", 0.3, seed=7)


def test_without_methods_drops_only_those_rows(tmp_path):
    rows = [example_row(i, f"row {i}", "on", ["O", "O"], "train") for i in range(3)]
    rows[1] = {**rows[1], "aug_method": "cross_lingual"}
    rows[2] = {**rows[2], "aug_method": "word_swap"}
    write_examples(tmp_path / "soft", rows)
    pattern = without_methods(str(tmp_path / "soft"), str(tmp_path / "out"), {"cross_lingual"})
    assert pattern.startswith(str(tmp_path / "out"))
    assert [r["id"][0] for r in _rows(tmp_path / "out", TRAIN)] == ["t:train:0", "t:train:2"]
