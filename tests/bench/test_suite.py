"""bench.suite times a make target that runs pytest and records its outcomes and slowest tests."""

import json
import subprocess
import sys

from bench import results_doc, suite
from tests.conftest import REPO

TESTS = """
import time, pytest

def test_slow():
    time.sleep(0.3)

def test_fast():
    pass

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass
"""


def test_a_target_is_timed_and_its_slowest_tests_recorded(tmp_path, monkeypatch, capsys):
    (tmp_path / "test_toy.py").write_text(TESTS)
    (tmp_path / "Makefile").write_text(f"test:\n\t{sys.executable} -m pytest -q -p no:cacheprovider test_toy.py\n")
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "results" / "tests.jsonl"
    assert suite.main(["--note", "idle machine", "--output", str(output)]) == 0
    [record] = [json.loads(line) for line in output.read_text().splitlines()]
    assert record["command"] == "make test" and record["exit_code"] == 0
    assert (record["tests"], record["passed"], record["failed"], record["skipped"]) == (3, 2, 0, 1)
    assert record["slowest"][0]["test"] == "test_toy.py::test_slow" and record["slowest"][0]["seconds"] >= 0.3
    assert record["wall_seconds"] >= record["pytest_seconds"] >= 0.3
    assert "make test: " in capsys.readouterr().out

    page = "\n".join(results_doc._tests_section(str(tmp_path / "results")))
    assert "| `make test` | idle machine |" in page and "`test_toy.py::test_slow`" in page


def test_a_failing_target_is_recorded_with_its_exit_code(tmp_path, monkeypatch):
    (tmp_path / "test_toy.py").write_text("def test_fails():\n    assert False\n")
    (tmp_path / "Makefile").write_text(f"test:\n\t{sys.executable} -m pytest -q -p no:cacheprovider test_toy.py\n")
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "tests.jsonl"
    assert suite.main(["--output", str(output)]) != 0
    record = json.loads(output.read_text())
    assert record["failed"] == 1 and record["passed"] == 0 and record["exit_code"] != 0


def test_a_target_that_stops_before_pytest_records_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / "Makefile").write_text("test:\n\texit 3\n")
    monkeypatch.chdir(tmp_path)
    assert suite.main(["--output", str(tmp_path / "tests.jsonl")]) != 0
    assert not (tmp_path / "tests.jsonl").exists()
    assert "before pytest ran" in capsys.readouterr().err


def test_ci_is_timed_whole_and_says_whether_it_started_cold(tmp_path, monkeypatch, capsys):
    (tmp_path / ".ci").mkdir()
    script = tmp_path / ".ci" / "run"
    script.write_text("#!/bin/sh\nsleep 0.2\nexit 4\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "tests.jsonl"
    assert suite.main(["--target", "ci", "--output", str(output)]) == 4
    (tmp_path / ".venv").mkdir()
    assert suite.main(["--target", "ci", "--note", "make run beside it", "--output", str(output)]) == 4
    cold, warm = [json.loads(line) for line in output.read_text().splitlines()]
    assert (cold["command"], cold["cold"], cold["exit_code"]) == (".ci/run", True, 4) and cold["wall_seconds"] >= 0.2
    assert warm["cold"] is False and warm["note"] == "make run beside it"
    assert ".ci/run: cold, " in capsys.readouterr().out
    page = "\n".join(results_doc._tests_section(str(tmp_path)))
    assert "| `.ci/run` (cold) | idle machine |" in page


def test_the_machine_is_named_with_the_standard_library_only():
    # `--target ci` records a cold run, whose python3 may have neither NumPy nor TensorFlow.
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); from bench.common import commit_and_machine; "
    code += "print(commit_and_machine()['machine'])"
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CPU cores" in proc.stdout and "GPU(s)" in proc.stdout
