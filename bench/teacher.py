"""A teacher ablation on your own labelled files: fine-tune with the shipped defaults plus
`--set` overrides, score on the file nothing selects on, record the result.

    .venv/bin/python -m bench.teacher --data DIR --name NAME [--set teacher.finetune.KEY=VALUE ...]
        [--config pipeline.yaml] [--work-dir DIR] [--output bench/results/teacher.jsonl]

DIR is what `bench.real` takes (train.jsonl, eval.jsonl, optionally test.jsonl) and is split
the same way (`bench.real.split_files`): the fine-tune stops on the stopping split, and the
record's headline is the exact match on the scored file (eval.jsonl without a test file), per
language and as the mean over languages, with slot tags decoded under the BIO rule as
everywhere else. The dataset is built once per work dir and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

from bench.common import append_record, commit_and_machine, recorded_command
from bench.real import split_files
from config_core import ProjectConfig, load_sections, or_exit
from schemas.features import TEACHER_METRICS_FILE, TEST


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.teacher", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with train.jsonl, eval.jsonl[, test.jsonl]")
    parser.add_argument("--name", required=True, help="the record's name")
    parser.add_argument("--config", default="pipeline.yaml", help="path to pipeline.yaml")
    parser.add_argument("--work-dir", help="dataset and teachers go here (default runs/teacher-bench-DATA)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output", default="bench/results/teacher.jsonl")
    parser.add_argument(
        "--teacher",
        help="score this teacher, fine-tuned before on the work dir's dataset with the same --set, instead of training",
    )
    args = parser.parse_args(argv)
    data_name = os.path.basename(os.path.normpath(args.data))
    work_dir = os.path.abspath(args.work_dir or os.path.join("runs", f"teacher-bench-{data_name}"))
    try:
        splits = split_files(args.data, os.path.join(work_dir, "splits"))
    except (FileNotFoundError, ValueError) as exc:
        print(f"bench.teacher: {exc}", file=sys.stderr)
        return 2
    from beam_jobs.config import DataConfig
    from teacher.config import TeacherConfig

    overrides = ["data.source=jsonl", f"data.paths={json.dumps(splits['paths'])}", *args.overrides]
    config = or_exit(
        load_sections,
        args.config,
        overrides,
        {"project": ProjectConfig, "data": DataConfig, "teacher": TeacherConfig},
    )
    dataset = os.path.join(work_dir, "dataset")
    if not os.path.isdir(dataset):
        from beam_jobs import build_dataset

        data_overrides = [arg for override in overrides[:2] for arg in ("--set", override)]
        build_dataset.run(["--config", args.config, "--output_dir", dataset, *data_overrides])

    from teacher import data as data_lib
    from teacher.bases import resolve_base
    from teacher.device import pick_device
    from teacher.finetune import evaluate, train
    from teacher.model import load_teacher

    teacher = config["teacher"]
    output = os.path.join(work_dir, args.name)
    started = time.time()
    if args.teacher:
        output = args.teacher
        with open(os.path.join(output, TEACHER_METRICS_FILE), encoding="utf-8") as f:
            report = json.load(f)
    else:
        base = resolve_base(teacher.base, teacher.cache_dir)
        report = train(base, dataset, output, teacher.finetune, config["project"].seed)
    model, tokenizer = load_teacher(output)
    scored = evaluate(
        model, tokenizer, data_lib.read_split(dataset, TEST), teacher.finetune.max_length,
        teacher.finetune.eval_batch_size, pick_device(),
    )  # fmt: skip
    languages = [lang for lang in scored if lang != "all"]
    row = {
        "name": args.name,
        "command": recorded_command("python -m bench.teacher", argv),
        "overrides": args.overrides,
        "data": data_name,
        "scored": splits["scored"],
        "exact_match": scored["all"]["exact_match"],
        "mean_exact_match_over_languages": sum(scored[lang]["exact_match"] for lang in languages) / len(languages),
        "by_language": scored,
        "stopping_split_exact_match": report["eval"]["all"]["exact_match"],
        "stopped": report["stopped"],
        "eval_curve": report["eval_curve"],
        "train_seconds": report["train_seconds"],
        "steps_per_second": round(report["steps"] / report["train_seconds"], 2),
        "minutes": round((time.time() - started) / 60, 1),
        **commit_and_machine(),
    }
    append_record(args.output, row)
    per_language = ", ".join(f"{lang} {scored[lang]['exact_match']:.3f}" for lang in languages)
    print(
        f"{args.name}: {splits['scored']} exact match {row['exact_match']:.4f}, mean over languages "
        f"{row['mean_exact_match_over_languages']:.4f} ({per_language}); kept step {report['stopped']['best_step']} "
        f"of {report['stopped']['last_step']}; {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
