import json

from bench.common import append_record


def test_records_are_appended_one_json_line_each_in_a_new_folder(tmp_path):
    path = tmp_path / "results" / "bench.jsonl"
    append_record(str(path), {"name": "a", "score": 0.5})
    append_record(str(path), {"name": "b", "score": None})
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [
        {"name": "a", "score": 0.5},
        {"name": "b", "score": None},
    ]
