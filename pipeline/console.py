"""What `python -m pipeline run` shows: one line per stage as it starts and ends, the progress
of the long stages, and where the full log is; everything else goes to that log file.

TFX, Beam and TensorFlow write hundreds of INFO and WARNING lines a run. Without `--verbose`
the process's stdout and stderr (Python and C++ alike) go to `<work_dir>/logs/run-<time>.log`;
the terminal gets the lines of `StageConsole`: stage starts and ends (read from
LocalDagRunner's log records), and records that libraries log with `extra={"progress": True}`
(teacher fine-tune steps, teacher-inference rows, Trainer epochs, dead-letter counts).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import sys
import time
from typing import Dict, Iterator, Optional, TextIO

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")


class StageConsole(logging.Handler):
    """Log records -> the few lines a person reads: stage starts and ends, progress, errors."""

    def __init__(self, stream: TextIO):
        super().__init__(level=logging.INFO)
        self._stream = stream
        self._started: Dict[str, float] = {}
        self._cached: set = set()
        self._current: Optional[str] = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if (match := _RUNNING.match(message)) is not None:
            self._current = match.group(1)
            self._started[self._current] = time.time()
            self._write(f"▶ {self._current}")
        elif _CACHED.match(message) and self._current:
            self._cached.add(self._current)
        elif (match := _FINISHED.match(message)) is not None:
            stage = match.group(1)
            seconds = time.time() - self._started.get(stage, time.time())
            state = "cached" if stage in self._cached else "done"
            self._write(f"✔ {stage:<18} {state:<7} {seconds:7.1f} s")
        elif getattr(record, "progress", False):
            self._write(f"    {message}")
        elif record.levelno >= logging.ERROR and record.name.startswith(("components", "beam_jobs", "absl")):
            self._write(f"  error: {message.splitlines()[0] if message else ''}")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


@contextlib.contextmanager
def quiet_run(work_dir: str, verbose: bool) -> Iterator[TextIO]:
    """Inside: the terminal shows `StageConsole`'s lines and the stream it yields (for the
    caller's own lines), and the full output goes to a log file whose path is printed first.
    With `verbose` everything stays on the terminal."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        yield sys.stdout
        return
    logs = os.path.join(work_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    path = os.path.join(logs, f"run-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    log_file = open(path, "a", buffering=1, encoding="utf-8")
    terminal.write(f"full log: {path}\n")
    root = logging.getLogger()
    previous_level, previous_handlers = root.level, list(root.handlers)
    # TFX logs stage starts and ends through absl at INFO; mid-run (in Transform) absl's
    # verbosity drops to WARNING, which would hide them. Keep the absl logger at INFO.
    absl_logger = logging.getLogger("absl")
    absl_level = absl_logger.level
    file_handler = logging.StreamHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    console = StageConsole(terminal)
    streams = sys.stdout, sys.stderr
    try:
        # Everything written to fds 1 and 2 (Python, C++ logs, progress bars) goes to the log.
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        sys.stdout = sys.stderr = log_file
        root.handlers = [file_handler, console]
        root.setLevel(logging.INFO)
        absl_logger.setLevel(logging.INFO)
        absl_logger.setLevel = lambda level: None  # type: ignore[method-assign]
        yield terminal
    finally:
        sys.stdout, sys.stderr = streams
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        root.handlers, root.level = previous_handlers, previous_level
        del absl_logger.setLevel  # the class's method again
        absl_logger.setLevel(absl_level)
        log_file.close()
        terminal.close()
