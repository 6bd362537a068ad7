"""Unseen templates of one language, measured without the test split: part of the language's
training templates is held out, augmentation and soft labels are rebuilt without them, and the
student, trained as the Trainer trains it, is scored on the held-out rows: once with every
configured augmentation method, and once without each method named by --without.

    .venv/bin/python -m bench.holdout --name NAME --lang hi [--fraction 0.3]
        [--without cross_lingual ...] [--run latest] [--config pipeline.yaml] [--set key=value ...]
        [--output bench/results/holdout.jsonl]

Why: a language's eval templates can be too few and too easy to tell two augmentations apart
(Hindi: 14 eval templates, eval exact match already ~0.96), and the test split must choose
nothing. The held-out rows are training rows: this reads the run's train and eval splits and its
fine-tuned teacher, never test. The teacher was fine-tuned on the held-out templates too, so it
labels the remaining rows as in the run, and its own score on them would flatter it: none is
given. The student is selected on eval, as in the Trainer. Appends one JSON line per variant.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from beam_jobs import augment, teacher_inference
from beam_jobs.cli import job_pipeline
from bench.ablate import run_outputs, train_and_score
from bench.common import append_record, commit_and_machine
from config_core import add_config_arguments
from pipeline.config import Config, load_config_or_exit
from pqrnn.train import configure_cpu_threads
from review.artifacts import SUMMARY_FILE, read_examples, read_json, write_examples
from schemas.examples import decode
from schemas.features import AUG_METHOD, EVAL, GROUP_ID, LANG, TEST, TRAIN, split_file_pattern

HELD_OUT = TEST  # the held-out rows go where the labelling job expects a third split


def hold_out_templates(
    dataset_dir: str, output_dir: str, lang: str, fraction: float, seed: int
) -> Tuple[Set[str], Dict[str, int]]:
    """Write a dataset folder whose train split lacks a `fraction` of `lang`'s training templates
    (groups), drawn with `seed`; those templates' rows are its third split; eval is the run's.
    The run's test split is not read. ValueError when the train split has no row of `lang`."""
    train = [(record, decode(record)) for record in read_examples(dataset_dir, TRAIN)]
    groups = sorted({row[GROUP_ID][0] for _, row in train if row[LANG][0] == lang})
    if not groups:
        raise ValueError(f"--lang {lang}: the run's train split has no rows of this language")
    held_out = set(random.Random(seed).sample(groups, max(1, round(fraction * len(groups)))))
    counts = {
        TRAIN: write_examples(output_dir, TRAIN, (r for r, row in train if row[GROUP_ID][0] not in held_out)),
        EVAL: write_examples(output_dir, EVAL, read_examples(dataset_dir, EVAL)),
        HELD_OUT: write_examples(output_dir, HELD_OUT, (r for r, row in train if row[GROUP_ID][0] in held_out)),
    }
    return held_out, counts


def without_methods(soft_labels_dir: str, output_dir: str, methods: Set[str]) -> str:
    """The soft-label train split without the rows of the given augmentation methods; its pattern."""
    kept = (r for r in read_examples(soft_labels_dir, TRAIN) if set(decode(r).get(AUG_METHOD, [])).isdisjoint(methods))
    write_examples(output_dir, TRAIN, kept)
    return split_file_pattern(output_dir, TRAIN)


def _labelled(config: Config, dataset_dir: str, teacher_dir: str, work: str) -> str:
    """Augment and teacher inference on the reduced dataset, as the pipeline runs them."""
    pipeline = lambda: job_pipeline(config.beam, [], False, None)  # noqa: E731 (one per job)
    augmented = os.path.join(work, "augmented")
    augment.build(
        pipeline(),
        config.augmentation,
        config.data,
        config.project.seed,
        dataset_dir,
        augmented,
        config.teacher.base,
        config.teacher.cache_dir,
    )
    soft_labels = os.path.join(work, "soft_labels")
    teacher_inference.build(pipeline(), config.teacher.inference, dataset_dir, augmented, teacher_dir, soft_labels)
    return soft_labels


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.holdout", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--name", required=True, help="the experiment's row name")
    parser.add_argument("--lang", required=True, help="the language whose training templates are held out")
    parser.add_argument("--fraction", type=float, default=0.3, help="of that language's training templates")
    parser.add_argument("--without", nargs="*", default=[], help="augmentation methods to leave out, one at a time")
    parser.add_argument("--run", default="latest", help="pipeline run whose dataset and teacher to use")
    parser.add_argument("--work-dir", help="keep the intermediate folders here (default: a temporary one)")
    parser.add_argument("--output", default="bench/results/holdout.jsonl")
    args = parser.parse_args(argv)
    if not 0 < args.fraction < 1:
        print(f"--fraction must be between 0 and 1: {args.fraction}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    configure_cpu_threads()  # as the Trainer does
    config = load_config_or_exit(args.config, args.overrides)
    found = run_outputs(config, args.run, ("DatasetGen", "examples"), ("TeacherFinetune", "model"))
    if found is None:
        return 2
    run_id, (dataset_dir, teacher_dir) = found
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or tmp
        reduced = os.path.join(work, "dataset")
        try:
            held_out, counts = hold_out_templates(dataset_dir, reduced, args.lang, args.fraction, config.project.seed)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{args.name}: held out {len(held_out)} {args.lang} training templates ({counts[HELD_OUT]} rows)")
        soft_labels = _labelled(config, reduced, teacher_dir, work)
        labels = read_json(os.path.join(soft_labels, SUMMARY_FILE))["labels"]
        variants: List[Tuple[str, Set[str]]] = [("all methods", set())] + [(f"without {m}", {m}) for m in args.without]
        for variant, methods in variants:
            started = time.time()
            train = (
                without_methods(soft_labels, os.path.join(work, variant.replace(" ", "_")), methods)
                if methods
                else split_file_pattern(soft_labels, TRAIN)
            )
            trained, (on_eval, on_held_out) = train_and_score(
                config, train, split_file_pattern(soft_labels, EVAL), labels, split_file_pattern(soft_labels, HELD_OUT)
            )
            row: Dict[str, Any] = {
                "name": args.name,
                "variant": variant,
                "overrides": args.overrides,
                "run": run_id,
                "lang": args.lang,
                "held_out_templates": len(held_out),
                "held_out_rows": counts[HELD_OUT],
                "student_held_out_exact_match": on_held_out[args.lang],
                "student_eval_exact_match": trained.eval_exact_match[trained.kept_epoch],
                "student_eval_exact_match_by_language": on_eval,
                "kept_epoch": trained.kept_epoch + 1,
                "minutes": (time.time() - started) / 60,
                **commit_and_machine(),
            }
            append_record(args.output, row)
            print(
                f"{args.name} ({variant}): held-out {args.lang} templates {on_held_out[args.lang]:.3f} "
                f"({counts[HELD_OUT]} rows), eval {row['student_eval_exact_match']:.4f} "
                f"({', '.join(f'{k} {v:.3f}' for k, v in on_eval.items())})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
