"""What every benchmark record shares: where it was measured (commit, machine, date) and how it
is kept (one JSON line appended to a `bench/results/*.jsonl` file); and the names of the eval
splits that the records and results.md share."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence

from runtime.timing import machine

# How bench.ablate splits the eval rows, and how results.md names the splits. By whether the
# student can have learnt every word of a row from gold rows:
SEEN, UNSEEN = "every word seen", "an unseen word"
# By the gold training rows of the row's intent (name, at most): on real data the student's
# intent falls furthest behind the teacher's on the rarest intents.
INTENT_ROW_BUCKETS = (("0-20", 20), ("21-60", 60), ("61-200", 200), ("201+", float("inf")))


def commit_and_machine() -> Dict[str, str]:
    """Where a bench row was measured: the checkout's commit, the machine, the time."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return {
        "commit": commit.stdout.strip(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def recorded_command(program: str, argv: Optional[Sequence[str]], drop: Sequence[str] = ("--output",)) -> str:
    """The command a record says it came from: `program` and its arguments (`sys.argv[1:]` when
    `argv` is None) without the options in `drop` and their values, which say only where this
    copy of the record was written, so that the command reruns the measurement as it is kept."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    kept: List[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in drop:
            skip = True
        elif not any(arg.startswith(option + "=") for option in drop):
            kept.append(arg)
    return " ".join([program] + kept)


def append_record(path: str, record: Dict[str, Any]) -> None:
    """Append `record` as one JSON line to `path` (and its folder, if new)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
