"""A student ablation on the eval split only: the Trainer's training on a finished run's soft labels.

    .venv/bin/python -m bench.ablate --name NAME [--run latest|ID]
        [--soft-labels DIR --teacher DIR] [--augmented-fraction F] [--without-method METHOD ...]
        [--min-teacher-confidence P] [--config pipeline.yaml]
        [--set key=value ...]
        [--output bench/results/ablation.jsonl]

Trains the student with `pqrnn.train.train_student` (what the Trainer's `run_fn` calls) on the
run's cached TeacherInference output with the config plus overrides (`--set
training.epochs=10`), validating and selecting on eval, and prints the kept epoch's eval exact
match and eval fraction of teacher (the teacher's eval exact match from its fine-tune metrics).
`--soft-labels` takes a folder of `python -m beam_jobs.teacher_inference` instead (e.g. on an
augmentation the run did not have), `--teacher` the fine-tuned teacher that wrote it.
`--augmented-fraction F` trains on every gold row and a fixed fraction F of the augmented rows
(chosen by a hash of the row id): a point of the learning curve, student eval exact match
against the number of teacher-labelled rows. `--without-method cross_lingual` leaves out the
rows one augmentation method made: what that method is worth to the student;
`--min-teacher-confidence P` the augmented rows the teacher labels with a top probability under P
(its intent's or any word's slot): what its unsure labels are worth.
The record also splits eval into the rows whose every word some gold training row of their
language has, and the rows with an unseen word, with the student's and the teacher's exact match
on each: on real data the student loses to the teacher mostly on the latter (names, places);
and the student's and the teacher's intent accuracy by how many gold training rows the row's
intent has (`INTENT_ROW_BUCKETS`): its intent falls furthest behind on the rare ones.
It never reads the test split, so defaults can be chosen with it; the same overrides given to
`python -m pipeline run` re-run the Trainer, Evaluator and Pusher from the cache and measure
the result on test. Appends one JSON line per ablation to `--output`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import tensorflow as tf

from bench.common import INTENT_ROW_BUCKETS, SEEN, UNSEEN, commit_and_machine
from bench.speed import find_run
from config_core import add_config_arguments
from pipeline.config import Config, load_config_or_exit
from pqrnn.config import StudentConfig
from pqrnn.data import ExampleDecoder
from pqrnn.projection import Projection
from pqrnn.train import TrainedStudent, configure_cpu_threads, exact_match, train_student
from review.artifacts import SUMMARY_FILE, read_json
from schemas.features import (
    AUG_METHOD,
    AUGMENTED,
    EVAL,
    ID,
    INTENT,
    LANG,
    SLOT_TAGS,
    TEACHER_INTENT,
    TEACHER_INTENT_LOGITS,
    TEACHER_METRICS_FILE,
    TEACHER_SLOT_LOGITS,
    TEACHER_SLOT_TAGS,
    TOKENS,
    TRAIN,
    split_file_pattern,
)

LOW_CONFIDENCE = "teacher unsure"  # why `--min-teacher-confidence` leaves a row out: "teacher unsure: <method>"


def split_records(pattern: str) -> Iterator[Tuple[bytes, Any]]:
    """Each serialized row of a split's TFRecords with its parsed features."""
    for record in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern)), compression_type="GZIP"):
        yield record.numpy(), tf.train.Example.FromString(record.numpy()).features.feature


def _text(features: Any, name: str) -> List[str]:
    return [v.decode("utf-8") for v in features[name].bytes_list.value]


def records_by(pattern: str, key: Callable[[Any], str]) -> Dict[str, List[bytes]]:
    """A split's serialized rows grouped by key(features)."""
    groups: Dict[str, List[bytes]] = defaultdict(list)
    for record, features in split_records(pattern):
        groups[key(features)].append(record)
    return groups


def exact_match_by(
    model: tf.keras.Model,
    pattern: str,
    student: StudentConfig,
    intents: List[str],
    tags: List[str],
    key: Callable[[Any], str],
) -> Dict[str, float]:
    """The model's exact match on the rows of a split's TFRecords, grouped by key(features)."""
    decoder = ExampleDecoder(Projection.from_config(student), intents, tags, soft_labels=True)
    groups = records_by(pattern, key)
    return {
        name: exact_match(model, tf.data.Dataset.from_tensor_slices(rows).batch(128).map(decoder), tags)
        for name, rows in sorted(groups.items())
    }


def language(features: Any) -> str:
    return _text(features, LANG)[0]


def word_coverage(train_pattern: str) -> Callable[[Any], str]:
    """A row's key by whether every word of it is among its language's words in the gold rows of
    the train split: the words the student can have learnt from labelled utterances."""
    seen: Dict[str, Set[str]] = defaultdict(set)
    for _, features in split_records(train_pattern):
        if not any(features[AUGMENTED].int64_list.value):
            seen[language(features)].update(w.lower() for w in _text(features, TOKENS))

    def key(features: Any) -> str:
        words = seen[language(features)]
        return SEEN if all(w.lower() in words for w in _text(features, TOKENS)) else UNSEEN

    return key


def intent_rows(train_pattern: str) -> Callable[[Any], str]:
    """A row's key by how many gold rows of the train split (every language) have its intent:
    `INTENT_ROW_BUCKETS`, "0-20" ... "201+"."""
    counts = Counter(
        _text(features, INTENT)[0]
        for _, features in split_records(train_pattern)
        if not any(features[AUGMENTED].int64_list.value)
    )

    def key(features: Any) -> str:
        rows = counts[_text(features, INTENT)[0]]
        return next(name for name, most in INTENT_ROW_BUCKETS if rows <= most)

    return key


def intent_accuracy_by(
    model: tf.keras.Model,
    pattern: str,
    student: StudentConfig,
    intents: List[str],
    tags: List[str],
    key: Callable[[Any], str],
) -> Dict[str, float]:
    """The model's intent accuracy on a split's rows by key(features), in `INTENT_ROW_BUCKETS` order."""
    decoder = ExampleDecoder(Projection.from_config(student), intents, tags)
    groups = records_by(pattern, key)
    accuracy = {}
    for name in (name for name, _ in INTENT_ROW_BUCKETS if groups[name]):
        right = 0
        for features, targets in tf.data.Dataset.from_tensor_slices(groups[name]).batch(128).map(decoder):
            predicted = tf.argmax(model(features, training=False)["intent_logits"], -1)
            right += int(tf.reduce_sum(tf.cast(predicted == targets["intent"], tf.int32)))
        accuracy[name] = right / len(groups[name])
    return accuracy


def teacher_intent_accuracy_by(pattern: str, key: Callable[[Any], str]) -> Dict[str, float]:
    """The teacher's intent accuracy (its labels in the soft-label rows) by key, in bucket order."""
    right: Counter = Counter()
    rows: Counter = Counter()
    for _, features in split_records(pattern):
        name = key(features)
        rows[name] += 1
        right[name] += _text(features, TEACHER_INTENT) == _text(features, INTENT)
    return {name: right[name] / rows[name] for name, _ in INTENT_ROW_BUCKETS if rows[name]}


def teacher_exact_match_by(pattern: str, key: Callable[[Any], str]) -> Dict[str, float]:
    """The teacher's exact match (its labels in the soft-label rows against gold) by key."""
    right: Dict[str, int] = defaultdict(int)
    rows: Dict[str, int] = defaultdict(int)
    for _, features in split_records(pattern):
        name = key(features)
        rows[name] += 1
        intent_right = _text(features, TEACHER_INTENT) == _text(features, INTENT)
        right[name] += intent_right and _text(features, TEACHER_SLOT_TAGS) == _text(features, SLOT_TAGS)
    return {name: right[name] / rows[name] for name in sorted(rows)}


def teacher_confidence(features: Any) -> float:
    """How sure the teacher is of a soft-label row: the least of its intent's and each word's slot
    top softmax probability."""
    intent = np.asarray(features[TEACHER_INTENT_LOGITS].float_list.value)
    slots = np.asarray(features[TEACHER_SLOT_LOGITS].float_list.value)
    slots = slots.reshape(len(features[TOKENS].bytes_list.value), -1) if slots.size else slots.reshape(0, 1)
    top = [1.0 / np.exp(logits - logits.max(-1, keepdims=True)).sum(-1) for logits in (intent[None], slots)]
    return float(np.concatenate(top).min())


def subsample_augmented(
    pattern: str,
    fraction: float,
    out_dir: str,
    without_methods: Sequence[str] = (),
    min_teacher_confidence: float = 0.0,
) -> Tuple[str, Dict[str, int], Dict[str, int]]:
    """A copy of a split's TFRecords with every gold row and `fraction` of the augmented ones
    (those whose id hashes below it, so a smaller fraction's rows are a subset of a larger
    one's), none of those made by `without_methods` (their `aug_method`) or with a
    `teacher_confidence` below `min_teacher_confidence`; its file pattern, the rows kept of each
    kind and the rows left out for each of those reasons (a method's name; `LOW_CONFIDENCE`: and
    the method)."""
    kept = {"gold": 0, "augmented": 0}
    left_out = {method: 0 for method in without_methods}
    path = os.path.join(out_dir, "train.tfrecord.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern)), compression_type="GZIP"):
            features = tf.train.Example.FromString(record.numpy()).features.feature
            if any(features[AUGMENTED].int64_list.value):
                method = _text(features, AUG_METHOD)[0]
                if method in without_methods:
                    left_out[method] += 1
                    continue
                if min_teacher_confidence and teacher_confidence(features) < min_teacher_confidence:
                    reason = f"{LOW_CONFIDENCE}: {method}"
                    left_out[reason] = left_out.get(reason, 0) + 1
                    continue
                digest = hashlib.sha256(features[ID].bytes_list.value[0]).digest()
                if int.from_bytes(digest[:8], "big") >= fraction * 2**64:
                    continue
                kept["augmented"] += 1
            else:
                kept["gold"] += 1
            writer.write(record.numpy())
    return path, kept, left_out


def train_and_score(
    config: Config, train_pattern: str, eval_pattern: str, labels: Dict[str, List[str]], *score_patterns: str
) -> Tuple[TrainedStudent, List[Dict[str, float]]]:
    """The Trainer's training on soft-label files, selecting on eval; the kept student's exact
    match per language on eval, then on each of `score_patterns`."""
    with tempfile.TemporaryDirectory() as out:
        trained = train_student(
            config.student,
            config.distillation,
            config.training,
            config.project.seed,
            train_pattern,
            eval_pattern,
            labels["intents"],
            labels["slot_tags"],
            os.path.join(out, "serving"),
            os.path.join(out, "logs"),
        )
    scores = [
        exact_match_by(trained.model, pattern, config.student, labels["intents"], labels["slot_tags"], language)
        for pattern in (eval_pattern, *score_patterns)
    ]
    return trained, scores


def run_outputs(config: Config, run_name: str, *outputs: Tuple[str, str]) -> Optional[Tuple[str, List[str]]]:
    """A finished run's id and the URIs of its (component, output) artifacts; None, after saying
    so, when there is no such run."""
    run = find_run(config, run_name)
    artifacts = [run.artifact(component, output) if run else None for component, output in outputs]
    if run is None or any(a is None for a in artifacts):
        stages = ", ".join(component for component, _ in outputs)
        print(f"no finished pipeline run with {stages}: run `make run` first", file=sys.stderr)
        return None
    return run.id, [a.uri for a in artifacts]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablate", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--name", required=True, help="the ablation's row name")
    parser.add_argument("--run", default="latest", help="pipeline run whose soft labels to train on")
    parser.add_argument(
        "--soft-labels",
        help="instead of a run's: a folder written by beam_jobs.teacher_inference (with --teacher)",
    )
    parser.add_argument("--teacher", help="the fine-tuned teacher folder that labelled --soft-labels")
    parser.add_argument(
        "--augmented-fraction",
        type=float,
        default=1.0,
        help="train on every gold row and this fraction of the augmented rows (a learning-curve point)",
    )
    parser.add_argument(
        "--without-method",
        action="append",
        default=[],
        metavar="METHOD",
        help="leave out the augmented rows this augmentation method made (e.g. cross_lingual); repeatable",
    )
    parser.add_argument(
        "--min-teacher-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="leave out the augmented rows whose teacher's top probability (intent or any word's slot) is below P",
    )
    parser.add_argument("--output", default="bench/results/ablation.jsonl")
    args = parser.parse_args(argv)
    for flag, value in (
        ("--augmented-fraction", args.augmented_fraction),
        ("--min-teacher-confidence", args.min_teacher_confidence),
    ):
        if not 0.0 <= value <= 1.0:
            print(f"{flag} {value}: must be in [0, 1]", file=sys.stderr)
            return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)  # the epoch lines
    configure_cpu_threads()  # as the Trainer does
    config = load_config_or_exit(args.config, args.overrides)
    if bool(args.soft_labels) != bool(args.teacher):
        print("--soft-labels and --teacher go together", file=sys.stderr)
        return 2
    if args.soft_labels:
        source, soft_labels_dir, teacher_dir = args.soft_labels, args.soft_labels, args.teacher
    else:
        found = run_outputs(config, args.run, ("TeacherInference", "soft_label_examples"), ("TeacherFinetune", "model"))
        if found is None:
            return 2
        source, (soft_labels_dir, teacher_dir) = found
    labels = read_json(os.path.join(soft_labels_dir, SUMMARY_FILE))["labels"]
    teacher_metrics = read_json(os.path.join(teacher_dir, TEACHER_METRICS_FILE))["eval"]
    teacher_em = teacher_metrics["all"]["exact_match"]
    eval_pattern = split_file_pattern(soft_labels_dir, EVAL)
    started, provenance = time.time(), commit_and_machine()  # the commit the ablation runs, not a later one
    with tempfile.TemporaryDirectory() as subsample_dir:
        train_pattern, train_rows, left_out = subsample_augmented(
            split_file_pattern(soft_labels_dir, TRAIN),
            args.augmented_fraction,
            subsample_dir,
            args.without_method,
            args.min_teacher_confidence,
        )
        absent = [method for method in args.without_method if not left_out[method]]
        if absent:
            print(f"--without-method {', '.join(absent)}: no augmented training row was made by it", file=sys.stderr)
            return 2
        trained, (by_language,) = train_and_score(config, train_pattern, eval_pattern, labels)
        coverage = word_coverage(train_pattern)
        student_by_coverage = exact_match_by(
            trained.model, eval_pattern, config.student, labels["intents"], labels["slot_tags"], coverage
        )
        teacher_by_coverage = teacher_exact_match_by(eval_pattern, coverage)
        rarity = intent_rows(train_pattern)
        student_intent = intent_accuracy_by(
            trained.model, eval_pattern, config.student, labels["intents"], labels["slot_tags"], rarity
        )
        teacher_intent = teacher_intent_accuracy_by(eval_pattern, rarity)
    scores, kept = trained.eval_exact_match, trained.kept_epoch
    row = {
        "name": args.name,
        "overrides": args.overrides,
        "run": source,
        "augmented_fraction": args.augmented_fraction,
        "min_teacher_confidence": args.min_teacher_confidence,
        "left_out_rows": left_out,
        "train_rows": sum(train_rows.values()),
        "gold_train_rows": train_rows["gold"],
        "augmented_train_rows": train_rows["augmented"],
        "eval_exact_match_per_epoch": scores,
        "kept_epoch": kept + 1,
        "student_eval_exact_match": scores[kept],
        "student_eval_exact_match_by_language": by_language,
        "teacher_eval_exact_match": teacher_em,
        "teacher_eval_exact_match_by_language": {
            lang: teacher_metrics.get(lang, {}).get("exact_match") for lang in by_language
        },
        "eval_fraction_of_teacher": scores[kept] / teacher_em,
        # Where the student loses to the teacher: rows with a word no gold training row has.
        "student_eval_exact_match_by_word_coverage": student_by_coverage,
        "teacher_eval_exact_match_by_word_coverage": teacher_by_coverage,
        # Where its intent loses: rows whose intent has few gold training rows.
        "student_eval_intent_accuracy_by_intent_train_rows": student_intent,
        "teacher_eval_intent_accuracy_by_intent_train_rows": teacher_intent,
        "minutes": (time.time() - started) / 60,
        **provenance,
    }
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    languages = ", ".join(f"{lang} {em:.3f}" for lang, em in by_language.items())
    print(f"{args.name}: eval exact match by language: {languages}")
    for name, em in student_by_coverage.items():
        print(f"{args.name}: eval rows with {name}: student {em:.3f}, teacher {teacher_by_coverage[name]:.3f}")
    for name, accuracy in student_intent.items():
        print(
            f"{args.name}: eval rows of intents with {name} gold training rows: intent accuracy student "
            f"{accuracy:.3f}, teacher {teacher_intent[name]:.3f}"
        )
    print(
        f"{args.name}: kept epoch {kept + 1} of {len(scores)}, eval exact match {scores[kept]:.4f}, "
        f"eval fraction of teacher {scores[kept] / teacher_em:.3f} (teacher {teacher_em:.4f}); {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
