"""All end-to-end benchmarks of one pipeline run, as one markdown table (bench/results/pipeline.md).

    .venv/bin/python -m bench.run_all [--config pipeline.yaml] [--run latest|ID]
        [--pipeline-root DIR | --metadata FILE] [--teacher-rows 500] [--skip-teacher-inference] [--train-steps 60]
        [--output bench/results/pipeline.md]

Gathers, for a finished run found through MLMD (default: the config's latest run):
- time per stage: each execution's MLMD start/end; a stage the run took from the cache is
  timed by the execution that produced the cached artifact (named in the table);
- single-query latency of student and teacher on this machine, and their ratio
  (`review.speed.size_and_speed`, on the run's eval texts);
- teacher inference, Beam RunInference job vs a plain transformers loop
  (`bench.teacher_inference_benchmark.measure`, on the run's teacher and dataset), the job's
  start-up apart;
- training throughput from the Trainer's TensorBoard logs (examples/s), and measured now with
  today's code on the run's soft labels, with MAC/s and utilisation
  (`bench.speed.trainer_throughput`, `bench.speed.peak_mac_per_s`).
Every figure is stated with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any, Dict, List, Optional

import ml_metadata as mlmd

from config_core import add_config_arguments
from pipeline.config import config_from_json, load_config_or_exit
from pipeline.local_runner import run_paths
from pqrnn.train import configure_cpu_threads
from review.artifacts import SUMMARY_FILE, read_json, run_config, teacher_max_length, training_curves
from review.run_store import Run, RunStoreError, cache_source, choose_metadata_path, load_run, open_store
from review.speed import eval_queries, size_and_speed
from runtime.timing import machine
from schemas.features import TRAIN, split_file_pattern


def stage_times(store: mlmd.MetadataStore, run: Run) -> List[Dict[str, Any]]:
    """Seconds per stage; a CACHED stage is timed by the COMPLETE execution that wrote its outputs."""
    rows = []
    for execution in run.executions:
        timed_by = cache_source(store, execution) or execution
        rows.append(
            {
                "component": execution.component,
                "state": execution.state,
                "seconds": (timed_by.finished_ms - timed_by.started_ms) / 1000,
                "execution": timed_by.id,
            }
        )
    return rows


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{value:,.{digits}f}"


def markdown(
    run: Run,
    machine: str,
    stages: List[Dict[str, Any]],
    speed: Optional[Dict[str, Any]],
    teacher_inference: Optional[Dict[str, Any]],
    training: Optional[Dict[str, Any]],
    trainer: Optional[Dict[str, Any]] = None,
) -> str:
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Benchmarks of pipeline run `{run.id}` ({run.pipeline}), measured {day} on {machine}.",
        "",
        "| stage | state in this run | seconds | timed execution |",
        "|---|---|---:|---:|",
    ]
    for row in stages:
        lines.append(
            f"| {row['component']} | {row['state'].lower()} | {_fmt(row['seconds'], 1)} | {row['execution']} |"
        )
    lines.append(f"| **sum of stages** | | **{_fmt(sum(r['seconds'] for r in stages), 1)}** | |")
    lines += ["", "| figure | value |", "|---|---:|"]
    if speed:
        for row in speed["rows"]:
            lines.append(f"| single-query latency p50, {row['name']} (ms) | {_fmt(row['p50_ms'])} |")
        ratio = _fmt(speed["latency_ratio"], 1)
        lines.append(f"| latency ratio teacher / student (p50, {speed['queries']} queries) | {ratio}x |")
        lines.append(f"| size ratio teacher fp32 / student int8 | {_fmt(speed['size_ratio'], 1)}x |")
    if teacher_inference:
        ti = teacher_inference
        lines.append(
            f"| teacher inference, plain transformers loop (rows/s, {ti['rows']} rows, batch {ti['batch_size']}) "
            f"| {_fmt(ti['plain'], 1)} |"
        )
        lines.append(
            f"| teacher inference, Beam RunInference job, steady state (rows/s; start-up "
            f"{_fmt(ti['beam_startup_seconds'], 1)} s apart) | {_fmt(ti['beam'], 1)} |"
        )
        end_to_end = _fmt(ti["beam_end_to_end"], 1)
        lines.append(f"| teacher inference, Beam RunInference job end to end (rows/s) | {end_to_end} |")
        lines.append(f"| teacher inference ratio Beam / plain, steady state ({ti['device']}) | {_fmt(ti['ratio'])} |")
        lines.append(f"| teacher inference ratio Beam / plain, end to end | {_fmt(ti['ratio_end_to_end'])} |")
    if trainer:
        lines.append(
            f"| training throughput measured now (examples/s, {trainer['trainer_steps']} steps of "
            f"{trainer['trainer_batch_size']}) | {_fmt(trainer['trainer_examples_per_s'], 1)} |"
        )
        lines.append(f"| training MAC/s (3 x forward MACs of the real tokens) | {trainer['trainer_mac_per_s']:.3g} |")
        lines.append(f"| peak fp32 matmul MAC/s (TensorFlow, same process) | {trainer['peak_mac_per_s']:.3g} |")
        lines.append(f"| trainer utilisation (MAC/s / peak) | {_fmt(trainer['trainer_utilisation'], 3)} |")
    if training and training.get("examples_per_second"):
        lines.append(
            f"| training throughput (examples/s, {training['epochs']} epochs x {training['train_rows']:,} rows, "
            f"validation included) | {_fmt(training['examples_per_second'], 1)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--pipeline-root", help="pipeline root of a local run (default: from the config)")
    parser.add_argument("--metadata", help="MLMD sqlite file (overrides the pipeline root)")
    parser.add_argument("--run", default="latest", help="run id or 'latest'")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument(
        "--teacher-rows", type=int, default=500, help="rows for the Beam vs plain teacher-inference figure"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-teacher-inference", action="store_true")
    parser.add_argument("--train-steps", type=int, default=60, help="timed training steps (0: skip)")
    parser.add_argument("--output", default="bench/results/pipeline.md")
    args = parser.parse_args(argv)
    configure_cpu_threads()  # as a Trainer in its own process does, before TF starts
    config = load_config_or_exit(args.config, args.overrides)
    path = choose_metadata_path(args.metadata, args.pipeline_root, run_paths(config).metadata_path)
    try:
        store = open_store(path)
        run = load_run(store, path, config.project.name, args.run)
    except RunStoreError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    stages = stage_times(store, run)
    speed = None
    if run.student_model() is not None:
        texts, token_lists = eval_queries(run)
        max_length = teacher_max_length(run, config.teacher.inference.max_length)
        speed = size_and_speed(run, max_length, texts, token_lists, args.latency_queries)
    teacher_inference = None
    teacher, dataset = run.teacher_model(), run.artifact("DatasetGen", "examples")
    if not args.skip_teacher_inference and teacher is not None and dataset is not None:
        from bench.teacher_inference_benchmark import measure

        # The run's own settings (teacher max_length, Beam args), not today's config file.
        used = config_from_json(json.dumps(run_config(run) or config.to_dict()))
        teacher_inference = measure(used, teacher.uri, dataset.uri, args.teacher_rows, args.batch_size)
    trainer = None
    soft_labels = run.artifact("TeacherInference", "soft_label_examples")
    labels = (read_json(os.path.join(soft_labels.uri, SUMMARY_FILE)) or {}).get("labels") if soft_labels else None
    if args.train_steps > 0 and labels:
        from bench.speed import peak_mac_per_s, trainer_throughput

        # Today's code and training config on the run's soft labels (bench.speed measures the same).
        pattern = split_file_pattern(soft_labels.uri, TRAIN)
        trainer = trainer_throughput(
            config, pattern, labels["intents"], labels["slot_tags"], args.train_steps, max(args.train_steps // 3, 5)
        )
        trainer["peak_mac_per_s"] = peak_mac_per_s()
        trainer["trainer_utilisation"] = trainer["trainer_mac_per_s"] / trainer["peak_mac_per_s"]
    table = markdown(run, machine(), stages, speed, teacher_inference, training_curves(run), trainer)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(table)
    print(table)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
