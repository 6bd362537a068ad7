"""StagedOutput: a job's output appears only when published, and dead letters are readable."""

import json
import os

import apache_beam as beam
import pytest

from beam_jobs.outputs import SUMMARY_FILE, StagedOutput, UsageError, WriteJsonLines, dead_letter, write_text


def test_output_appears_only_on_publish(tmp_path):
    out = StagedOutput(str(tmp_path / "out"), ["Split-train"], overwrite=False)
    write_text(out.path("Split-train", "rows.txt"), "a\n")
    with beam.Pipeline() as p:
        _ = (
            p
            | beam.Create([dead_letter("read", "bad_json", "invalid JSON", "f.jsonl:3", b"{\xff")])
            | WriteJsonLines(out.path("dead_letter", "job"))
        )
    assert [n for n in os.listdir(tmp_path / "out") if not n.startswith(".staging-")] == []
    dead = out.dead_letters()
    assert dead == [
        {"stage": "read", "code": "bad_json", "reason": "invalid JSON", "location": "f.jsonl:3", "row": "{\\xff"}
    ]

    out.publish({"status": "ok"}, ["Split-train"])
    assert sorted(os.listdir(tmp_path / "out")) == ["Split-train", "dead_letter", SUMMARY_FILE]
    assert json.loads((tmp_path / "out" / SUMMARY_FILE).read_text()) == {"status": "ok"}


def test_a_failed_job_publishes_only_its_summary_and_dead_letters(tmp_path):
    out = StagedOutput(str(tmp_path / "out"), ["Split-train"], overwrite=False)
    write_text(out.path("Split-train", "rows.txt"), "a\n")
    out.publish({"status": "failed"}, [])
    assert os.listdir(tmp_path / "out") == [SUMMARY_FILE]


def test_an_existing_output_needs_overwrite(tmp_path):
    StagedOutput(str(tmp_path / "out"), [], overwrite=False).publish({"status": "ok"}, [])
    with pytest.raises(UsageError, match="already holds a job's output; pass --overwrite") as err:
        StagedOutput(str(tmp_path / "out"), [], overwrite=False)
    assert err.value.exit_code == 2
    StagedOutput(str(tmp_path / "out"), [], overwrite=True).publish({"status": "again"}, [])
    assert json.loads((tmp_path / "out" / SUMMARY_FILE).read_text()) == {"status": "again"}
