"""Record a finished local pipeline run as one line of `bench/results/runs.jsonl`.

    .venv/bin/python -m bench.runs [--config pipeline.yaml] [--set key=value ...] [--run latest|ID]
        [--name embedded-default] [--minutes M] [--command "make run"] [--checkout "fresh clone"]
        [--note TEXT] [--output bench/results/runs.jsonl]

Reads the run (default: the latest of the config's pipeline in its `project.work_dir`) through
MLMD and the Evaluator's TFMA output (`review.summary.summarize`): the scored split's teacher
and student exact match, overall and per language, the fraction of teacher with its 95 %
interval, the mean over languages, the verdict, where the teacher and the student stopped, where
the student loses to the teacher (`rows_lost`, `span_errors`: the report's recount,
`review.rescoring`), the size ratio and the seconds of each stage that ran (a stage taken from
the cache is listed under `cached`). `--minutes` is the whole command's wall time as you measured it (e.g. `time make
run`, install included); `pipeline_minutes` is read from the run's executions. The commit, the
machine and the date are this checkout's and this machine's at the time of recording: record a
run right after it, in its checkout. `python -m bench.docs` then puts the newest record in
docs/results.md and in the README's headline.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional

DEFAULT_NAME = "embedded-default"
DEFAULT_COMMAND = "make run"


def _mean(values: Dict[str, Optional[float]]) -> Optional[float]:
    present = [v for v in values.values() if v is not None]
    return sum(present) / len(present) if present and len(present) == len(values) else None


def run_record(metadata_path: str, pipeline_name: str, run: str = "latest") -> Dict[str, Any]:
    """What a finished run measured, read from its MLMD store and artifacts: the fields
    `bench.real` and `bench.runs` records share."""
    from review.artifacts import read_json
    from review.rescoring import rescore_predictions
    from review.run_store import read_run
    from review.summary import summarize
    from schemas.features import HEADLINE, TEACHER_METRICS_FILE

    summary = summarize(metadata_path, pipeline_name, run)
    found = read_run(metadata_path, pipeline_name, summary.run_id)
    teacher_model = found.teacher_model()
    teacher = (read_json(os.path.join(teacher_model.uri, TEACHER_METRICS_FILE)) if teacher_model else None) or {}
    languages = sorted(summary.per_language)

    def by_language(key: str) -> Dict[str, Optional[float]]:
        return {lang: summary.per_language[lang].get(key) for lang in languages}

    fractions = by_language(HEADLINE)
    # Where the student loses to the teacher (the report's recount on the scored split).
    predictions = rescore_predictions(found, summary.overall) if summary.overall else None
    ran = [e for e in found.executions if e.state != "CACHED"]
    started = min((e.started_ms for e in found.executions), default=None)
    finished = max((e.finished_ms for e in found.executions), default=None)
    return {
        "run": summary.run_id,
        "scored_split": summary.split,
        "blessed": summary.blessed,
        "scored_split_rows": summary.overall.get("eval_examples"),
        "teacher_exact_match": summary.overall.get("teacher_exact_match"),
        "student_exact_match": summary.overall.get("student_exact_match"),
        "fraction_of_teacher": summary.overall.get(HEADLINE),
        "fraction_of_teacher_interval": [
            summary.overall.get(HEADLINE + "_lower"),
            summary.overall.get(HEADLINE + "_upper"),
        ],
        "mean_fraction_over_languages": _mean(fractions),
        "rows_by_language": by_language("eval_examples"),
        "teacher_exact_match_by_language": by_language("teacher_exact_match"),
        "student_exact_match_by_language": by_language("student_exact_match"),
        "fraction_of_teacher_by_language": fractions,
        "fraction_of_teacher_interval_by_language": {
            lang: [summary.per_language[lang].get(HEADLINE + suffix) for suffix in ("_lower", "_upper")]
            for lang in languages
        },
        "teacher_mean_exact_match_over_languages": _mean(by_language("teacher_exact_match")),
        "intent_accuracy_by_language": {who: by_language(f"{who}_intent_accuracy") for who in ("teacher", "student")},
        "slot_f1_by_language": {who: by_language(f"{who}_slot_f1") for who in ("teacher", "student")},
        "rows_lost": predictions["rows_lost"] if predictions else None,
        "span_errors": predictions["span_errors"] if predictions else None,
        "stopped": summary.stopped,
        "teacher_train_rows_left_out": {k: len(v) for k, v in teacher.get("train_rows_left_out", {}).items()},
        "teacher_eval_rows_cut": len(teacher.get("eval_rows_cut", [])),
        "size_ratio": summary.size_ratio if summary.student_int8_bytes else None,
        "teacher_bytes": summary.teacher_bytes,
        "student_int8_bytes": summary.student_int8_bytes,
        "stage_seconds": {e.component: round((e.finished_ms - e.started_ms) / 1000, 1) for e in ran},
        "cached": [e.component for e in found.executions if e.state == "CACHED"],
        "pipeline_minutes": round((finished - started) / 60000, 1) if started is not None else None,
    }


def main(argv: Optional[List[str]] = None) -> int:
    from config_core import add_config_arguments

    parser = argparse.ArgumentParser(prog="python -m bench.runs", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--run", default="latest", help="the pipeline run to record (its id; default the latest)")
    parser.add_argument("--name", help=f"the record's name (default {DEFAULT_NAME}, for the embedded default)")
    parser.add_argument("--minutes", type=float, help="the command's wall time (`time make run`)")
    parser.add_argument("--command", default=DEFAULT_COMMAND, help=f"what ran (default {DEFAULT_COMMAND!r})")
    parser.add_argument("--checkout", help="where it ran, e.g. 'fresh clone' (a cold cache and install)")
    parser.add_argument("--note", help="anything else a reader should know, e.g. 'the test suite shared the cores'")
    parser.add_argument("--output", default="bench/results/runs.jsonl")
    args = parser.parse_args(argv)

    from bench.common import append_record, commit_and_machine
    from pipeline.config import load_config_or_exit
    from pipeline.local_runner import run_paths
    from review.run_store import RunStoreError

    config = load_config_or_exit(args.config, args.overrides)
    if args.name is None and config.data.source != "home_assistant":
        print(f"bench.runs: data.source is {config.data.source!r}, not the embedded default: name it with --name")
        return 2
    try:
        measured = run_record(run_paths(config).metadata_path, config.project.name, args.run)
    except RunStoreError as exc:
        print(f"bench.runs: {exc}", file=sys.stderr)
        return 2
    if measured["fraction_of_teacher"] is None:
        print(f"bench.runs: run {measured['run']} has no evaluation; no record written", file=sys.stderr)
        return 1
    row = {
        "name": args.name or DEFAULT_NAME,
        "command": args.command,
        "checkout": args.checkout,
        "overrides": args.overrides,
        "minutes": args.minutes,
        **measured,
        **commit_and_machine(),
    }
    if args.note:
        row["note"] = args.note
    append_record(args.output, row)
    low, high = row["fraction_of_teacher_interval"]
    print(
        f"{row['name']} ({row['scored_split']} split, run {row['run']}): fraction of teacher "
        f"{row['fraction_of_teacher']:.3f} ({low:.3f}-{high:.3f}), teacher EM {row['teacher_exact_match']:.3f}, "
        f"student EM {row['student_exact_match']:.3f}, {'blessed' if row['blessed'] else 'not blessed'}; {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
