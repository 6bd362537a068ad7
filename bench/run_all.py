"""All end-to-end benchmarks of one pipeline run, as one markdown table (the README includes it).

    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m bench.run_all [--config pipeline.yaml] [--run latest|ID]
        [--pipeline-root DIR | --metadata FILE] [--teacher-rows 500] [--skip-teacher-inference]
        [--output bench/results/pipeline.md]

Gathers, for a finished run found through MLMD (default: the config's latest run):
- time per stage: each execution's MLMD start/end; a stage the run took from the cache is
  timed by the execution that produced the cached artifact (named in the table);
- single-query latency of student and teacher on this machine, and their ratio
  (`pipeline.report.size_and_speed`, on the run's eval texts);
- teacher inference, Beam RunInference job vs a plain transformers loop
  (`bench.teacher_inference_benchmark.measure`, on the run's teacher and dataset);
- training throughput from the Trainer's TensorBoard logs (examples/s).
Every figure is stated with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ml_metadata as mlmd  # noqa: E402
from ml_metadata.proto import metadata_store_pb2  # noqa: E402

from pipeline import report  # noqa: E402
from pipeline.config import add_config_arguments, config_from_json, load_config_or_exit  # noqa: E402


def stage_times(store: mlmd.MetadataStore, run: report.Run) -> List[Dict[str, Any]]:
    """Seconds per stage; a CACHED stage is timed by the COMPLETE execution that wrote its outputs."""
    rows = []
    for execution in run.executions:
        row = {"component": execution.component, "state": execution.state,
               "seconds": (execution.finished_ms - execution.started_ms) / 1000, "execution": execution.id}
        outputs = [i for ids in execution.outputs.values() for i in ids]
        if execution.state == "CACHED" and outputs:
            producers = [e.execution_id for e in store.get_events_by_artifact_ids(outputs)
                         if e.type == metadata_store_pb2.Event.OUTPUT and e.execution_id != execution.id]
            complete = [e for e in store.get_executions_by_id(producers)
                        if e.last_known_state == metadata_store_pb2.Execution.COMPLETE]
            if complete:
                original = complete[0]
                row.update(seconds=(original.last_update_time_since_epoch - original.create_time_since_epoch) / 1000,
                           execution=original.id)
        rows.append(row)
    return rows


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{value:,.{digits}f}"


def markdown(run: report.Run, machine: str, stages: List[Dict[str, Any]], speed: Optional[Dict[str, Any]],
             teacher_inference: Optional[Dict[str, Any]], training: Optional[Dict[str, Any]]) -> str:
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Benchmarks of pipeline run `{run.id}` ({run.pipeline}), measured {day} on {machine}.",
        "",
        "| stage | state in this run | seconds | timed execution |",
        "|---|---|---:|---:|",
    ]
    for row in stages:
        lines.append(f"| {row['component']} | {row['state'].lower()} | {_fmt(row['seconds'], 1)} | {row['execution']} |")
    lines.append(f"| **sum of stages** | | **{_fmt(sum(r['seconds'] for r in stages), 1)}** | |")
    lines += ["", "| figure | value |", "|---|---:|"]
    if speed:
        for row in speed["rows"]:
            lines.append(f"| single-query latency p50, {row['name']} (ms) | {_fmt(row['p50_ms'])} |")
        lines.append(f"| latency ratio teacher / student (p50, {speed['queries']} queries) | {_fmt(speed['latency_ratio'], 1)}x |")
        lines.append(f"| size ratio teacher fp32 / student int8 | {_fmt(speed['size_ratio'], 1)}x |")
    if teacher_inference:
        ti = teacher_inference
        lines.append(f"| teacher inference, plain transformers loop (rows/s, {ti['rows']} rows, batch {ti['batch_size']}) "
                     f"| {_fmt(ti['plain'], 1)} |")
        lines.append(f"| teacher inference, Beam RunInference job end to end (rows/s) | {_fmt(ti['beam'], 1)} |")
        lines.append(f"| teacher inference ratio Beam / plain ({ti['machine']}) | {_fmt(ti['ratio'])} |")
    if training and training.get("examples_per_second"):
        lines.append(f"| training throughput (examples/s, {training['epochs']} epochs x {training['train_rows']:,} rows, "
                     f"validation included) | {_fmt(training['examples_per_second'], 1)} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--pipeline-root", help="pipeline root of a local run (default: from the config)")
    parser.add_argument("--metadata", help="MLMD sqlite file (overrides the pipeline root)")
    parser.add_argument("--run", default="latest", help="run id or 'latest'")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--teacher-rows", type=int, default=500, help="rows for the Beam vs plain teacher-inference figure")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-teacher-inference", action="store_true")
    parser.add_argument("--output", default="bench/results/pipeline.md")
    args = parser.parse_args(argv)
    config = load_config_or_exit(args.config, args.overrides)
    path = report.metadata_path(config, args.pipeline_root, args.metadata)
    try:
        store = report.open_store(path)
        run = report.load_run(store, path, config.project.name, args.run)
    except report.ReportError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    stages = stage_times(store, run)
    used = report.run_config(run) or config.to_dict()
    speed = None
    if run.artifact("Trainer", "model") is not None:
        texts, token_lists = report.eval_queries(run)
        speed = report.size_and_speed(run, used["teacher"]["inference"]["max_length"], texts, token_lists, args.latency_queries)
    teacher_inference = None
    teacher, dataset = run.artifact("TeacherInference", "teacher", "inputs"), run.artifact("DatasetGen", "examples")
    if not args.skip_teacher_inference and teacher is not None and dataset is not None:
        from bench.teacher_inference_benchmark import measure

        # The run's own settings (teacher max_length, Beam args), not today's config file.
        teacher_inference = measure(config_from_json(json.dumps(used)), teacher.uri, dataset.uri, args.teacher_rows, args.batch_size)
    table = markdown(run, report.machine(), stages, speed, teacher_inference, report.training_curves(run))
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(table)
    print(table)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
