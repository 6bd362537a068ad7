"""The thin command lines of the Beam jobs: config sections from pipeline.yaml, Beam options,
and one-line errors with exit codes (2: config or usage, 1: the job failed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

import config_core
from beam_jobs.config import BeamConfig
from beam_jobs.outputs import JobError

T = TypeVar("T")


def parse_job_args(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]
) -> Tuple[argparse.Namespace, List[str]]:
    """Parse the job's own flags plus `--config`/`--set`; unknown flags are Beam's."""
    config_core.add_config_arguments(parser)
    return parser.parse_known_args(argv)


def load_job_config(args: argparse.Namespace, section_types: Mapping[str, Any]) -> Dict[str, Any]:
    """The sections a job reads (plus `beam`), from `--config` with `--set`; exit 2 on errors."""
    return config_core.or_exit(
        config_core.load_sections, args.config, args.overrides, {**section_types, "beam": BeamConfig}
    )


def job_pipeline(
    beam_config: BeamConfig,
    beam_args: Sequence[str],
    save_main_session: bool,
    test_pipeline: Optional[beam.Pipeline],
) -> beam.Pipeline:
    """`test_pipeline`, or a pipeline on the config's Beam profile with the command line's
    extra Beam flags after it (so they win)."""
    if test_pipeline is not None:
        return test_pipeline
    options = PipelineOptions([*beam_config.args(), *beam_args])
    options.view_as(SetupOptions).save_main_session = save_main_session
    return beam.Pipeline(options=options)


def exit_on_job_error(job: Callable[[], T]) -> T:
    """Run a job for a CLI: a `JobError` prints one line and exits with its code."""
    try:
        return job()
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
