"""`python -m pipeline run|compile|submit|report`: run locally, compile for Kubeflow, submit a run,
review a run.

    python -m pipeline run [--config pipeline.yaml] [--set key=value ...]
    python -m pipeline compile [--config pipeline.yaml] [--set key=value ...] [--output FILE]
    python -m pipeline submit --host URL [--spec FILE] [--experiment NAME] [--param k=v ...] [--wait]
    python -m pipeline report [--config pipeline.yaml] [--pipeline-root DIR] [--run latest|ID] [--output report.html]
                              [--baseline ID]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from config_core import add_config_arguments  # noqa: E402
from pipeline.config import Config, ConfigError, load_config_or_exit  # noqa: E402
from pipeline.kubeflow_submit import DEFAULT_SPEC, add_submit_arguments, main_submit  # noqa: E402
from review.cli import add_report_arguments  # noqa: E402


def _compile(config: Config, output: str) -> int:
    from pipeline.kubeflow_runner import compile_pipeline

    try:
        spec = compile_pipeline(config, output)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    executors = spec["deploymentSpec"]["executors"].values()
    images = sorted({e["container"]["image"] for e in executors if "container" in e})
    print(f"wrote {output}: {len(spec['root']['dag']['tasks'])} tasks, images {', '.join(images)}")
    print(f"pipeline root: {spec['defaultPipelineRoot']}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="The pQRNN distillation pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, sqlite MLMD, caching)")
    add_config_arguments(run)
    compile_ = commands.add_parser("compile", help="compile the pipeline into a Kubeflow Pipelines (KFP v2) spec")
    add_config_arguments(compile_)
    compile_.add_argument("--output", default=DEFAULT_SPEC, help=f"spec file to write (default {DEFAULT_SPEC})")
    submit = commands.add_parser("submit", help="submit a compiled spec to Kubeflow Pipelines (and follow it)")
    add_submit_arguments(submit)
    report = commands.add_parser(
        "report", help="write an HTML + JSON review of a run (verdict, metrics, size, data, lineage)"
    )
    add_config_arguments(report)
    add_report_arguments(report)
    args = parser.parse_args(argv)
    if args.command == "submit":
        return main_submit(args)
    config = load_config_or_exit(args.config, args.overrides)
    if args.command == "compile":
        return _compile(config, args.output)
    if args.command == "report":
        from pipeline.local_runner import run_paths
        from review.cli import main_report

        return main_report(
            args, run_paths(config).metadata_path, config.project.name, config.teacher.inference.max_length
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from pipeline.local_runner import run_local, summarize
    from review.summary import format_summary

    try:
        seconds = run_local(config)
    except Exception as exc:  # noqa: BLE001 - the CLI reports any stage failure in one place
        print(f"\npipeline failed: {exc}", file=sys.stderr)
        return 1
    summary = summarize(config)
    print(format_summary(summary))
    print(f"pipeline finished in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
