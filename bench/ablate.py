"""A student ablation on the eval split only: the Trainer's training on a finished run's soft labels.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m bench.ablate --name NAME [--run latest|ID]
        [--config pipeline.yaml] [--set key=value ...] [--output bench/results/ablation.jsonl]

Trains the student with `pqrnn.train.train_student` (what the Trainer's `run_fn` calls) on the
run's cached TeacherInference output with the config plus overrides (`--set
training.epochs=10`), validating and selecting on eval, and prints the kept epoch's eval exact
match and eval fraction of teacher (the teacher's eval exact match from its fine-tune metrics).
It never reads the test split, so defaults can be chosen with it; the same overrides given to
`python -m pipeline run` re-run the Trainer, Evaluator and Pusher from the cache and measure
the result on test. Appends one JSON line per ablation to `--output`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

from bench.speed import find_run
from config_core import add_config_arguments
from pipeline.config import load_config_or_exit
from pqrnn.train import configure_cpu_threads, train_student
from review.artifacts import SUMMARY_FILE, read_json
from review.speed import machine
from schemas.features import EVAL, TRAIN, split_file_pattern

TEACHER_METRICS_FILE = "metrics.json"  # written by teacher.finetune next to the model


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablate", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--name", required=True, help="the ablation's row name")
    parser.add_argument("--run", default="latest", help="pipeline run whose soft labels to train on")
    parser.add_argument("--output", default="bench/results/ablation.jsonl")
    args = parser.parse_args(argv)
    configure_cpu_threads()  # as the Trainer does
    config = load_config_or_exit(args.config, args.overrides)
    run = find_run(config, args.run)
    soft_labels = run.artifact("TeacherInference", "soft_label_examples") if run else None
    teacher = run.artifact("TeacherFinetune", "model") if run else None
    if soft_labels is None or teacher is None:
        print("no finished pipeline run with a teacher and soft labels: run `make run` first", file=sys.stderr)
        return 2
    labels = read_json(os.path.join(soft_labels.uri, SUMMARY_FILE))["labels"]
    teacher_em = read_json(os.path.join(teacher.uri, TEACHER_METRICS_FILE))["eval"]["all"]["exact_match"]
    started = time.time()
    with tempfile.TemporaryDirectory() as out:
        trained = train_student(
            config.student,
            config.distillation,
            config.training,
            config.project.seed,
            split_file_pattern(soft_labels.uri, TRAIN),
            split_file_pattern(soft_labels.uri, EVAL),
            labels["intents"],
            labels["slot_tags"],
            os.path.join(out, "serving"),
            os.path.join(out, "logs"),
        )
    scores, kept = trained.eval_exact_match, trained.kept_epoch
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    row = {
        "name": args.name,
        "overrides": args.overrides,
        "run": run.id,
        "eval_exact_match_per_epoch": scores,
        "kept_epoch": kept + 1,
        "student_eval_exact_match": scores[kept],
        "teacher_eval_exact_match": teacher_em,
        "eval_fraction_of_teacher": scores[kept] / teacher_em,
        "minutes": (time.time() - started) / 60,
        "commit": commit.stdout.strip(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(
        f"{args.name}: kept epoch {kept + 1} of {len(scores)}, eval exact match {scores[kept]:.4f}, "
        f"eval fraction of teacher {scores[kept] / teacher_em:.3f} (teacher {teacher_em:.4f}); {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
