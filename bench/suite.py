"""The test suite's time as data: run `make test` (or `make test-slow`) and record its wall time,
its outcome counts and its slowest tests.

    .venv/bin/python -m bench.suite [--target test|test-slow|ci] [--note TEXT]
        [--output bench/results/tests.jsonl]

The target runs as the README runs it (ruff, the C golden check, pytest); pytest also writes a
JUnit XML report (through PYTEST_ADDOPTS), whose per-test times (setup, call and teardown
together) give the slowest tests. `--target ci` times `.ci/run` (both tiers, after `make setup`
where there is no .venv yet: run it in a fresh clone for the cold time, e.g. `git clone . /tmp/c
&& cd /tmp/c && python3 -m bench.suite --target ci --output $OLDPWD/bench/results/tests.jsonl`);
its record has the wall time and exit code, the tiers' own records the tests. `--note` says what
else ran on the machine (e.g. "make run beside it"): only a run on an otherwise idle machine is a
timing. Exits with the target's code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional

from bench.common import append_record, commit_and_machine

TARGETS = ("test", "test-slow", "ci")
CI_SCRIPT = ".ci/run"
SLOWEST = 15


def junit_summary(path: str, slowest: int = SLOWEST) -> Dict[str, Any]:
    """Outcome counts, pytest's own seconds and the `slowest` tests of a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    cases = []
    for case in suite.iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        cases.append({"test": f"{module}.py::{case.get('name')}", "seconds": round(float(case.get("time", 0)), 2)})
    cases.sort(key=lambda c: -c["seconds"])
    failed, errors, skipped = (int(suite.get(key, 0)) for key in ("failures", "errors", "skipped"))
    return {
        "tests": len(cases),
        "passed": len(cases) - failed - errors - skipped,
        "failed": failed,
        "errors": errors,
        "skipped": skipped,
        "pytest_seconds": round(float(suite.get("time", 0)), 1),
        "slowest": cases[:slowest],
    }


def run_command(command: List[str], env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Run `command`: its exit code and wall seconds."""
    started = time.monotonic()
    code = subprocess.run(command, env=env, check=False).returncode
    return {"exit_code": code, "wall_seconds": round(time.monotonic() - started, 1)}


def run_target(target: str, junit_path: str) -> Dict[str, Any]:
    """`make TARGET` with pytest also writing `junit_path`: its exit code and wall seconds."""
    env = {**os.environ, "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --junitxml={junit_path}".strip()}
    return run_command(["make", target], env)


def time_ci(note: str) -> Dict[str, Any]:
    """The record of one `.ci/run` in the current folder; cold when it had no .venv to reuse."""
    cold = not os.path.isdir(".venv")
    ran = run_command([os.path.join(".", CI_SCRIPT)])
    record = {"command": CI_SCRIPT, "note": note, "cold": cold, **ran, "minutes": round(ran["wall_seconds"] / 60, 1)}
    return {**record, **commit_and_machine()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, default="test", help="the make target to time")
    parser.add_argument("--note", default="idle machine", help="what else ran on the machine meanwhile")
    parser.add_argument("--output", default="bench/results/tests.jsonl")
    args = parser.parse_args(argv)
    if args.target == "ci":
        record = time_ci(args.note)
        append_record(args.output, record)
        start = "cold, " if record["cold"] else ""
        print(f"{CI_SCRIPT}: {start}{record['minutes']} min, exit code {record['exit_code']}; {args.output}")
        return record["exit_code"]
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, "junit.xml")
        ran = run_target(args.target, junit)
        if not os.path.exists(junit):
            print(f"bench.suite: make {args.target} exited {ran['exit_code']} before pytest ran", file=sys.stderr)
            return ran["exit_code"] or 1
        record = {
            "command": f"make {args.target}",
            "note": args.note,
            **ran,
            "minutes": round(ran["wall_seconds"] / 60, 1),
            **junit_summary(junit),
            **commit_and_machine(),
        }
    append_record(args.output, record)
    print(
        f"make {args.target}: {record['minutes']} min, {record['passed']} passed, {record['failed']} failed, "
        f"{record['errors']} errors, {record['skipped']} skipped; slowest {record['slowest'][0]['seconds']} s "
        f"({record['slowest'][0]['test']}); {args.output}"
    )
    return ran["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
