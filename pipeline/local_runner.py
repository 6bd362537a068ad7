"""Run the pipeline locally with LocalDagRunner (sqlite MLMD under the work dir, caching on);
`summarize` reads what the latest run produced (see `review.summary`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

from tfx import v1 as tfx

from pipeline.config import Config
from pipeline.pipeline import create_pipeline
from review import summary
from review.run_store import local_metadata_path


@dataclass
class RunPaths:
    pipeline_root: str
    metadata_path: str
    serving_dir: str


def run_paths(config: Config) -> RunPaths:
    pipeline_root = os.path.join(config.project.work_dir, "pipeline_root")
    return RunPaths(
        pipeline_root=pipeline_root,
        metadata_path=local_metadata_path(pipeline_root),
        serving_dir=config.push.serving_dir,
    )


@contextlib.contextmanager
def python_tempdir(path: str) -> Iterator[None]:
    """Python's temp dir (`tempfile`) pointed at `path` inside the block."""
    saved = tempfile.tempdir
    tempfile.tempdir = path
    try:
        yield
    finally:
        tempfile.tempdir = saved


def run_local(config: Config) -> float:
    """Run the whole pipeline; returns the wall time in seconds. Its temp files go with it."""
    paths = run_paths(config)
    os.makedirs(os.path.dirname(paths.metadata_path), exist_ok=True)
    pipeline = create_pipeline(
        config,
        pipeline_root=paths.pipeline_root,
        serving_dir=paths.serving_dir,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata_path),
    )
    started = time.time()
    # Every TFX Beam executor builds a throwaway TFX sdist (~45 MB) in a new temp dir and never
    # removes it: the run's temp files go in a folder removed when it ends.
    with tempfile.TemporaryDirectory(prefix="pqrnn-run-") as scratch, python_tempdir(scratch):
        tfx.orchestration.LocalDagRunner().run(pipeline)
    return time.time() - started


def summarize(config: Config) -> summary.RunSummary:
    """What the latest local run of the configured pipeline produced."""
    return summary.summarize(run_paths(config).metadata_path, config.project.name)
