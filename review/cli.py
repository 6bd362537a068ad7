"""`python -m pipeline report`: one self-contained HTML file (charts embedded) and a JSON summary
that review a pipeline run, for a reviewer deciding "do we ship this student?".

    python -m pipeline report [--config pipeline.yaml] [--pipeline-root DIR] [--metadata FILE]
                              [--run latest|ID] [--output report.html] [--json FILE]
                              [--baseline RUN_ID] [--latency-queries N]

Exit status: 0 report written; 1 report written but the run has no evaluation (it failed or
is still running); 2 nothing to report (no store, no run, unknown run id).

The caller (`pipeline/__main__.py`) adds the config arguments and passes what it reads from
the config as plain values: the default store, the pipeline name, the teacher's max_length.
"""

from __future__ import annotations

import argparse
import sys

from review.render import format_number, write_report
from review.report import build_report, compare_reports
from review.run_store import RunStoreError, choose_metadata_path, load_run, open_store


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's own flags (the config flags are the caller's)."""
    parser.add_argument(
        "--pipeline-root",
        help="pipeline root of a local run (default: <project.work_dir>/pipeline_root); "
        "its MLMD store is <root>/../metadata/metadata.sqlite",
    )
    parser.add_argument("--metadata", help="MLMD sqlite file (overrides the one found from the pipeline root)")
    parser.add_argument(
        "--run", default="latest", help="run id (pipeline_run context name or id) or 'latest' (default)"
    )
    parser.add_argument("--output", default="report.html", help="HTML file to write; the JSON summary goes next to it")
    parser.add_argument("--json", dest="json_output", help="JSON summary file (default: the --output path with .json)")
    parser.add_argument("--baseline", help="run id to compare with (metric deltas, config changes)")
    parser.add_argument(
        "--latency-queries",
        type=int,
        default=100,
        help="single queries timed per model for the latency figures (0: skip size and speed)",
    )


def main_report(
    args: argparse.Namespace, default_metadata_path: str, pipeline_name: str, default_teacher_max_length: int
) -> int:
    """Write the report of `args.run` of `pipeline_name`; returns the exit status (module docstring).
    `default_metadata_path`: the store when neither --metadata nor --pipeline-root names one."""
    path = choose_metadata_path(args.metadata, args.pipeline_root, default_metadata_path)
    try:
        store = open_store(path)
        run = load_run(store, path, pipeline_name, args.run)
        baseline_run = load_run(store, path, pipeline_name, args.baseline) if args.baseline else None
    except RunStoreError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    report = build_report(run, default_teacher_max_length, args.latency_queries)
    if baseline_run is not None:
        # The baseline's teacher is usually the same model: only the student is re-timed.
        baseline = build_report(baseline_run, default_teacher_max_length, args.latency_queries, measure_teacher=False)
        report["comparison"] = compare_reports(report, baseline)
    html, summary = write_report(report, args.output, args.json_output)
    print(f"wrote {html} and {summary} (run {run.id}, {report['run']['status']})")
    if not report["evaluated"]:
        print(f"report: {report['message']}", file=sys.stderr)
        return 1
    verdict = report["verdict"]
    print(
        f"{'BLESSED' if verdict['blessed'] else 'NOT BLESSED'}: {verdict['headline']} "
        f"{format_number(verdict['overall_value'])} (gate {format_number(verdict['threshold'])}); "
        f"{len(verdict['below_floor'])} slice(s) below the floor"
    )
    return 0
