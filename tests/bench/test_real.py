"""bench.real's splits: the scored file is never what training stops on, and groups stay whole."""

import json

from bench.real import STOP_FRACTION, main, split_files


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _rows(n, prefix):
    # Three languages per group, as in MTOP: a group's rows must land on one side together.
    return [
        {"id": f"{prefix}{g}-{lang}", "group_id": f"{prefix}{g}", "text": f"row {g}", "intent": "X", "lang": lang}
        for g in range(n)
        for lang in ("en", "de", "th")
    ]


def _data_without_test(tmp_path, train_groups):
    """A data folder with train.jsonl (`train_groups` groups) and eval.jsonl, no test file."""
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "train.jsonl", _rows(train_groups, "t"))
    _write(data / "eval.jsonl", _rows(5, "e"))
    return data


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_without_a_test_file_eval_is_scored_and_a_tenth_of_the_train_groups_is_the_stopping_split(tmp_path):
    data = _data_without_test(tmp_path, 200)
    splits = split_files(str(data), str(tmp_path / "work"))
    assert splits["scored"] == "eval.jsonl"
    assert splits["paths"]["test"] == [str(data / "eval.jsonl")]
    train, stop = _read(splits["paths"]["train"][0]), _read(splits["paths"]["eval"][0])
    assert len(train) + len(stop) == 600
    assert not {r["group_id"] for r in train} & {r["group_id"] for r in stop}
    assert abs(len(stop) / 600 - STOP_FRACTION) < 0.05
    assert all(sum(r["group_id"] == g for r in stop) == 3 for g in {r["group_id"] for r in stop})
    # The same files always split the same way.
    assert split_files(str(data), str(tmp_path / "again"))["paths"]["eval"] != splits["paths"]["eval"]
    assert _read(split_files(str(data), str(tmp_path / "again"))["paths"]["eval"][0]) == stop


def test_a_test_file_keeps_the_three_splits_as_given(tmp_path):
    for name in ("train", "eval", "test"):
        _write(tmp_path / f"{name}.jsonl", _rows(2, name))
    splits = split_files(str(tmp_path), str(tmp_path / "work"))
    assert splits == {
        "paths": {name: [str(tmp_path / f"{name}.jsonl")] for name in ("train", "eval", "test")},
        "scored": "test.jsonl",
        "train_rows": 6,
    }


def test_train_groups_keeps_nested_whole_groups_and_the_same_stopping_split(tmp_path):
    data = _data_without_test(tmp_path, 400)
    full = split_files(str(data), str(tmp_path / "full"))
    half = split_files(str(data), str(tmp_path / "half"), train_groups=0.5)
    quarter = split_files(str(data), str(tmp_path / "quarter"), train_groups=0.25)
    groups = {
        name: {r["group_id"] for r in _read(splits["paths"]["train"][0])}
        for name, splits in (("full", full), ("half", half), ("quarter", quarter))
    }
    assert groups["quarter"] < groups["half"] < groups["full"]
    assert abs(len(groups["half"]) / len(groups["full"]) - 0.5) < 0.1
    assert abs(len(groups["quarter"]) / len(groups["full"]) - 0.25) < 0.1
    assert half["train_rows"] == 3 * len(groups["half"]) == len(_read(half["paths"]["train"][0]))
    assert _read(half["paths"]["eval"][0]) == _read(full["paths"]["eval"][0])


def test_train_groups_with_a_test_file_subsets_only_train(tmp_path):
    for name in ("train", "eval", "test"):
        _write(tmp_path / f"{name}.jsonl", _rows(100, name))
    splits = split_files(str(tmp_path), str(tmp_path / "work"), train_groups=0.5)
    assert splits["paths"]["eval"] == [str(tmp_path / "eval.jsonl")]
    assert splits["paths"]["test"] == [str(tmp_path / "test.jsonl")]
    assert 0 < splits["train_rows"] == len(_read(splits["paths"]["train"][0])) < 300


def test_a_train_groups_fraction_outside_0_1_is_a_usage_error(tmp_path, capsys):
    for name in ("train", "eval"):
        _write(tmp_path / f"{name}.jsonl", _rows(2, name))
    assert main(["--data", str(tmp_path), "--work-dir", str(tmp_path / "work"), "--train-groups", "0"]) == 2
    assert "--train-groups 0.0: must be in (0, 1]" in capsys.readouterr().err


def test_a_folder_without_train_or_eval_is_a_usage_error_before_any_work(tmp_path, capsys):
    _write(tmp_path / "train.jsonl", _rows(2, "t"))
    assert main(["--data", str(tmp_path), "--work-dir", str(tmp_path / "work")]) == 2
    assert "no eval.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_rest_unlabelled_gives_the_left_out_train_groups_texts_without_labels(tmp_path):
    data = _data_without_test(tmp_path, 400)
    full = split_files(str(data), str(tmp_path / "full"))
    half = split_files(str(data), str(tmp_path / "half"), train_groups=0.5, rest_unlabelled=True)
    kept, rest = _read(half["paths"]["train"][0]), _read(half["unlabeled"])
    assert half["unlabeled_rows"] == len(rest) == full["train_rows"] - half["train_rows"] > 0
    assert all(set(r) == {"text", "lang"} for r in rest)
    left_out = [r for r in _read(full["paths"]["train"][0]) if r not in kept]
    assert rest == [{"text": r["text"], "lang": r["lang"]} for r in left_out]


def test_rest_unlabelled_without_left_out_groups_is_a_usage_error(tmp_path, capsys):
    data = _data_without_test(tmp_path, 10)
    assert main(["--data", str(data), "--work-dir", str(tmp_path / "work"), "--rest-unlabelled"]) == 2
    assert "--rest-unlabelled needs --train-groups below 1" in capsys.readouterr().err
