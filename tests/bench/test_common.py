import json

from bench.common import append_record, recorded_command


def test_records_are_appended_one_json_line_each_in_a_new_folder(tmp_path):
    path = tmp_path / "results" / "bench.jsonl"
    append_record(str(path), {"name": "a", "score": 0.5})
    append_record(str(path), {"name": "b", "score": None})
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [
        {"name": "a", "score": 0.5},
        {"name": "b", "score": None},
    ]


def test_a_recorded_command_leaves_out_where_the_record_was_written():
    argv = ["--data", "../shared/data/mtop", "--output", "/tmp/x.jsonl", "--set", "a=1", "--output=/tmp/y.jsonl"]
    assert recorded_command("python -m bench.real", argv) == "python -m bench.real --data ../shared/data/mtop --set a=1"
    assert recorded_command("python -m bench.real", []) == "python -m bench.real"
