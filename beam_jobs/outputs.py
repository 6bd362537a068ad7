"""What every Beam job of the project writes besides its examples: a staging folder that is
moved into place only on success, dead letters, and a JSON summary; and how a job fails."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from typing import Any, Dict, List, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

SUMMARY_FILE = "summary.json"
DEAD_LETTER_DIR = "dead_letter"
# A failed job's summary and dead letters when the output folder holds a good output, which stays.
FAILED_DIR = "failed"
STAGING_PREFIX = ".staging-"
# Inside a staging folder: who writes it, the output it replaces (until the new one is in place),
# and the names being moved in (written once the old output is wholly moved away).
OWNER_FILE, PREVIOUS_DIR, MOVING_IN_FILE = "_owner.json", "_previous", "_moving_in.json"


class JobError(RuntimeError):
    """A job that cannot run or whose result must not be used; the message says why and where.
    CLIs print it on one line and exit with `exit_code`; components fail with it."""

    exit_code = 1


class UsageError(JobError):
    """Wrong arguments (e.g. an output folder already in use): exit code 2, before any work."""

    exit_code = 2


def report_progress(message: str, *args: Any) -> None:
    """A line a person watching the run wants: logged with `progress` set, which the pipeline's
    console shows even when it hides the rest of the log."""
    logging.getLogger("beam_jobs").info(message, *args, extra={"progress": True})


def dead_letter(stage: str, code: str, reason: str, location: str, row: Any) -> Dict[str, Any]:
    """One rejected row: where it came from, why, and the row itself (truncated if huge)."""
    if isinstance(row, bytes):
        row = row.decode("utf-8", errors="backslashreplace")
    if isinstance(row, str) and len(row) > 2000:
        row = row[:2000] + "...[truncated]"
    return {"stage": stage, "code": code, "reason": reason, "location": location, "row": row}


def _writable(text: str) -> str:
    # Lone surrogates (from a "\\ud800" JSON escape) cannot be UTF-8: write them as JSON escapes.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def read_jsonl(pattern: str) -> List[Dict[str, Any]]:
    records: List[Dict[str, Any]] = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as f:
            # "\n" only: JSON leaves U+2028 or U+0085 inside strings, which splitlines() would cut at.
            records.extend(json.loads(line) for line in f.read().decode("utf-8").split("\n") if line.strip())
    return records


class WriteJsonLines(beam.PTransform):
    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, pcoll):
        return (
            pcoll
            | "ToJson" >> beam.Map(lambda record: _writable(json.dumps(record, ensure_ascii=False)))
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
        )


def _local(path: str) -> bool:
    return "://" not in path


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    try:
        with FileSystems.open(path) as f:
            found = json.loads(f.read().decode("utf-8"))
    except Exception:  # missing or half-written: as if absent
        return None
    return found if isinstance(found, dict) else None


def _children(folder: str) -> List[str]:
    """Names of the entries directly in `folder` (files and folders; [] when absent)."""
    if _local(folder):
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    prefix = folder.rstrip("/") + "/"
    return sorted({m.path[len(prefix) :].split("/")[0] for m in FileSystems.match([prefix + "**"])[0].metadata_list})


def _alive(owner: Optional[Dict[str, Any]]) -> bool:
    """Whether the job that wrote `owner` still runs (known only for another process on this host)."""
    if not owner or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StagedOutput:
    """An output folder whose content appears only when the job has finished.

    Jobs write under `staging`; `publish(summary, names)` then replaces the folder's previous
    output with those names (renames: old away into the staging folder, new in, old deleted; on
    an error the old is put back), so a failed or killed job never costs the previous output.
    Staging folders of crashed runs are removed by the next run on the folder (after putting
    back an output a crash interrupted mid-replace); nothing else in the folder is touched.
    One job at a time per output folder: a staging folder of a live process on this host is
    a `UsageError`.
    """

    def __init__(self, output_dir: str, published_names: List[str], overwrite: bool):
        self.output_dir = output_dir.rstrip("/")
        self._names = list(published_names) + [SUMMARY_FILE, DEAD_LETTER_DIR, FAILED_DIR]
        self._refuse_file()
        for name in _children(self.output_dir):
            if name.startswith(STAGING_PREFIX):
                self._recover(self._out(name))
        if FileSystems.exists(self._out(SUMMARY_FILE)) and not overwrite:
            raise UsageError(
                f"{self.output_dir} already holds a job's output; pass --overwrite or choose another folder"
            )
        self.staging = self._out(f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}")
        write_text(self.path(OWNER_FILE), json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))

    def _out(self, *parts: str) -> str:
        return FileSystems.join(self.output_dir, *parts)

    def path(self, *parts: str) -> str:
        return FileSystems.join(self.staging, *parts)

    def _refuse_file(self) -> None:
        if not _local(self.output_dir):
            return
        existing = os.path.abspath(self.output_dir)
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise UsageError(f"--output_dir {self.output_dir}: {existing} is a file, not a folder")

    def _recover(self, stale: str) -> None:
        """Remove a crashed run's staging folder, first putting back the output it was replacing
        if the crash came between moving that output away and completing the new one."""
        owner = _read_json(FileSystems.join(stale, OWNER_FILE))
        if _alive(owner):
            raise UsageError(
                f"{stale} belongs to a job still running (pid {owner['pid']}); wait for it or use another output folder"
            )
        previous = FileSystems.join(stale, PREVIOUS_DIR)
        if _children(previous) and not FileSystems.exists(self._out(SUMMARY_FILE)):
            moving_in = _read_json(FileSystems.join(stale, MOVING_IN_FILE)) or {}
            partial = [self._out(n) for n in moving_in.get("names", []) if FileSystems.exists(self._out(n))]
            if partial:
                FileSystems.delete(partial)
            back = [n for n in _children(previous) if not FileSystems.exists(self._out(n))]
            FileSystems.rename([FileSystems.join(previous, n) for n in back], [self._out(n) for n in back])
        FileSystems.delete([stale])

    def dead_letters(self) -> List[Dict[str, Any]]:
        return read_jsonl(self.path(DEAD_LETTER_DIR, "*.jsonl"))

    def discard(self) -> None:
        """Drop the staging folder of a job that raised; the output folder stays as it was."""
        if FileSystems.exists(self.staging):
            FileSystems.delete([self.staging])

    def publish(self, summary: Dict[str, Any], names: List[str]) -> str:
        """Replace the output with `names` + summary + dead letters; returns the folder they are in.

        A failed job (`summary["status"] == "failed"`) does not replace a good output (status
        ok): its summary and dead letters go to `failed/` beside it, replacing an older one. A
        successful job removes `failed/`.
        """
        write_text(self.path(SUMMARY_FILE), json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        previous = _read_json(self._out(SUMMARY_FILE)) or {}
        if summary.get("status") == "failed" and previous.get("status") == "ok":
            FileSystems.mkdirs(self.path(FAILED_DIR))
            report = [n for n in (SUMMARY_FILE, DEAD_LETTER_DIR) if FileSystems.exists(self.path(n))]
            FileSystems.rename([self.path(n) for n in report], [self.path(FAILED_DIR, n) for n in report])
            self._replace([FAILED_DIR], [FAILED_DIR])
            return self._out(FAILED_DIR)
        self._replace(self._names, names + [DEAD_LETTER_DIR, SUMMARY_FILE])
        return self.output_dir

    def _replace(self, old: List[str], new: List[str]) -> None:
        # summary.json marks a whole output: it leaves first and arrives last.
        old = sorted((n for n in old if FileSystems.exists(self._out(n))), key=lambda n: n != SUMMARY_FILE)
        new = sorted((n for n in new if FileSystems.exists(self.path(n))), key=lambda n: n == SUMMARY_FILE)
        moved_away: List[str] = []
        moved_in: List[str] = []
        try:
            FileSystems.mkdirs(self.path(PREVIOUS_DIR))
            for name in old:
                FileSystems.rename([self._out(name)], [self.path(PREVIOUS_DIR, name)])
                moved_away.append(name)
            write_text(self.path(MOVING_IN_FILE), json.dumps({"names": new}))
            for name in new:
                FileSystems.rename([self.path(name)], [self._out(name)])
                moved_in.append(name)
        except Exception:
            FileSystems.rename([self._out(n) for n in moved_in], [self.path(n) for n in moved_in])
            FileSystems.rename([self.path(PREVIOUS_DIR, n) for n in moved_away], [self._out(n) for n in moved_away])
            raise
        FileSystems.delete([self.staging])
