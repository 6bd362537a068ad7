"""What every Beam job of the project writes besides its examples: a staging folder that is
moved into place only on success, dead letters, and a JSON summary; and how a job fails."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

SUMMARY_FILE = "summary.json"
DEAD_LETTER_DIR = "dead_letter"


class JobError(RuntimeError):
    """A job that cannot run or whose result must not be used; the message says why and where.
    CLIs print it on one line and exit with `exit_code`; components fail with it."""

    exit_code = 1


class UsageError(JobError):
    """Wrong arguments (e.g. an output folder already in use): exit code 2, before any work."""

    exit_code = 2


def dead_letter(stage: str, code: str, reason: str, location: str, row: Any) -> Dict[str, Any]:
    """One rejected row: where it came from, why, and the row itself (truncated if huge)."""
    if isinstance(row, bytes):
        row = row.decode("utf-8", errors="backslashreplace")
    if isinstance(row, str) and len(row) > 2000:
        row = row[:2000] + "...[truncated]"
    return {"stage": stage, "code": code, "reason": reason, "location": location, "row": row}


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def read_jsonl(pattern: str) -> List[Dict[str, Any]]:
    records: List[Dict[str, Any]] = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as f:
            records.extend(json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip())
    return records


class WriteJsonLines(beam.PTransform):
    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, pcoll):
        return (
            pcoll
            | "ToJson" >> beam.Map(json.dumps, ensure_ascii=False)
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
        )


class StagedOutput:
    """An output folder whose content appears only when the job has finished.

    Jobs write under `staging`; `publish(names)` moves those names into the output folder
    (a rename on local disks) and removes the staging folder.
    """

    def __init__(self, output_dir: str, published_names: List[str], overwrite: bool):
        self.output_dir = output_dir.rstrip("/")
        if FileSystems.exists(FileSystems.join(self.output_dir, SUMMARY_FILE)):
            if not overwrite:
                raise UsageError(
                    f"{self.output_dir} already holds a job's output; pass --overwrite or choose another folder"
                )
            old = [FileSystems.join(self.output_dir, n) for n in published_names + [SUMMARY_FILE, DEAD_LETTER_DIR]]
            FileSystems.delete([p for p in old if FileSystems.exists(p)])
        self.staging = FileSystems.join(self.output_dir, f".staging-{uuid.uuid4().hex[:8]}")

    def path(self, *parts: str) -> str:
        return FileSystems.join(self.staging, *parts)

    def dead_letters(self) -> List[Dict[str, Any]]:
        return read_jsonl(self.path(DEAD_LETTER_DIR, "*.jsonl"))

    def publish(self, summary: Dict[str, Any], names: List[str]) -> None:
        write_text(self.path(SUMMARY_FILE), json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        sources, targets = [], []
        for name in names + [SUMMARY_FILE, DEAD_LETTER_DIR]:
            if FileSystems.exists(self.path(name)):
                sources.append(self.path(name))
                targets.append(FileSystems.join(self.output_dir, name))
        FileSystems.rename(sources, targets)
        FileSystems.delete([self.staging])
