"""`python -m pipeline run|compile|submit|kfp-local|report`: run locally, compile for Kubeflow,
submit a run, try a compiled spec on this machine, review a run.

    python -m pipeline run [--config pipeline.yaml] [--set key=value ...] [--verbose]
    python -m pipeline compile [--config pipeline.yaml] [--set key=value ...] [--output FILE] [--target kfp|vertex]
                               [--local-root DIR]
    python -m pipeline submit --host URL [--spec FILE] [--experiment NAME] [--param k=v ...] [--wait]
    python -m pipeline submit --vertex --project P --region R [--service-account SA] [--network N] [--label k=v ...]
                              [--spec FILE] [--param k=v ...] [--wait]
    python -m pipeline kfp-local SPEC [--pipeline-root DIR] [--param k=v ...]
    python -m pipeline report [--config pipeline.yaml] [--pipeline-root DIR] [--run latest|ID] [--output report.html]
                              [--baseline ID]
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from config_core import add_config_arguments
from pipeline.config import Config, ConfigError, load_config_or_exit
from pipeline.kubeflow.kfp_local import add_kfp_local_arguments, main_kfp_local
from pipeline.kubeflow.settings import DEFAULT_TARGET, TARGETS
from pipeline.kubeflow.submit import DEFAULT_SPEC, add_submit_arguments
from pipeline.kubeflow.vertex import add_vertex_arguments, main_submit_command
from review.cli import add_report_arguments
from runtime import environment


def _compile(config: Config, output: str, local_root: Optional[str], target: str) -> int:
    from pipeline.kubeflow.compiler import compile_pipeline

    try:
        spec = compile_pipeline(config, output, local_root, target)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    executors = spec["deploymentSpec"]["executors"].values()
    images = sorted({e["container"]["image"] for e in executors if "container" in e})
    print(f"wrote {output} for {target}: {len(spec['root']['dag']['tasks'])} tasks, images {', '.join(images)}")
    print(f"pipeline root: {spec['defaultPipelineRoot']}")
    if local_root is not None:
        print(f"for this machine only, not for submit: python -m pipeline kfp-local {output}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="The pQRNN distillation pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, sqlite MLMD, caching)")
    add_config_arguments(run)
    run.add_argument("--verbose", action="store_true", help="show every TFX/Beam log line instead of one per stage")
    compile_ = commands.add_parser("compile", help="compile the pipeline into a Kubeflow Pipelines (KFP v2) spec")
    add_config_arguments(compile_)
    compile_.add_argument("--output", default=DEFAULT_SPEC, help=f"spec file to write (default {DEFAULT_SPEC})")
    compile_.add_argument(
        "--target",
        choices=TARGETS,
        default=DEFAULT_TARGET,
        help=f"kfp: open-source Kubeflow Pipelines; vertex: Vertex AI Pipelines (default {DEFAULT_TARGET})",
    )
    compile_.add_argument(
        "--local-root",
        metavar="DIR",
        help="compile for kfp-local: DIR as pipeline root, push.serving_dir and this checkout's files (no submit)",
    )
    submit = commands.add_parser(
        "submit", help="submit a compiled spec to Kubeflow Pipelines or Vertex AI Pipelines (and follow it)"
    )
    add_submit_arguments(submit)
    add_vertex_arguments(submit)
    kfp_local = commands.add_parser(
        "kfp-local", help="run a spec compiled with --local-root on this machine, as KFP's driver and launcher would"
    )
    add_kfp_local_arguments(kfp_local)
    report = commands.add_parser(
        "report", help="write an HTML + JSON review of a run (verdict, metrics, size, data, lineage)"
    )
    add_config_arguments(report)
    add_report_arguments(report)
    args = parser.parse_args(argv)
    if not getattr(args, "verbose", False):
        # TensorFlow's start-up lines (CUDA plugins) and google.api_core's Python 3.10 warning
        # would come before any message of ours; nothing imported so far loads either.
        environment.quiet()
    if args.command == "submit":
        return main_submit_command(args)
    if args.command == "kfp-local":
        return main_kfp_local(args)
    config = load_config_or_exit(args.config, args.overrides)
    if args.command == "compile":
        return _compile(config, args.output, args.local_root, args.target)
    if args.command == "report":
        from pipeline.local_runner import run_paths
        from review.cli import main_report

        return main_report(
            args, run_paths(config).metadata_path, config.project.name, config.teacher.inference.max_length
        )
    from pipeline.console import quiet_run
    from pipeline.local_runner import run_local, summarize
    from review.summary import format_summary

    with quiet_run(config.project.work_dir, args.verbose) as terminal:
        try:
            seconds = run_local(config)
        except Exception as exc:  # noqa: BLE001 - the CLI reports any stage failure in one place
            print(f"\npipeline failed: {exc}", file=terminal)
            return 1
        print(format_summary(summarize(config)), file=terminal)
        print(f"pipeline finished in {seconds / 60:.1f} min", file=terminal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
