"""Beam job: new unlabelled inputs from the training split, for the teacher to label.

    python -m beam_jobs.augment --config pipeline.yaml --dataset_dir DATASET --output_dir DIR [beam args]

`build(pipeline, augmentation, seed, dataset_dir, output_dir)` is the job; `run(argv)` its
command line (reads the `project`, `augmentation` and `beam` sections).

Methods and amounts (new rows per training row) come from `augmentation:` in the config:
slot_resample, word_dropout, word_swap, char_distortion, and round_trip through pivot
languages with local seq2seq models (the paper's paraphrasing) when routes are configured.

Only the train split is a parent. A candidate is dropped, and counted, when its text (case-
and space-insensitive) equals any original text of any split, in particular eval/test (the
leakage guard), or another candidate. Output: DIR/Split-train/data_tfrecord-*.gz with
id, lang, text, tokens, group_id (the parent's), source, augmented=1, aug_method;
summary.json; dead_letter/ (e.g. a failed translation batch).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import time
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam

from beam_jobs import augmentation
from beam_jobs.cli import exit_on_job_error, job_pipeline, load_job_config, parse_job_args
from beam_jobs.config import AugmentationConfig, RoundTripRoute
from beam_jobs.dataset.examples import ReadExamples, WriteExamples
from beam_jobs.outputs import DEAD_LETTER_DIR, StagedOutput, WriteJsonLines, dead_letter, read_jsonl, report_progress
from config_core import ProjectConfig
from schemas.features import AUG_METHOD, AUGMENTED, SPLIT_DIR_PREFIX, SPLITS, TRAIN, text_key
from tokenization import words

OFFLINE_METHODS = ("slot_resample", "word_dropout", "word_swap", "char_distortion")
CANDIDATES, DEAD, COUNTS = "candidates", "dead", "counts"


def _draws(amount: float, rng: random.Random) -> int:
    whole = int(amount)
    return whole + (1 if rng.random() < amount - whole else 0)


def _rng(seed: int, row_id: str, method: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{row_id}|{method}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _candidate(parent: Dict[str, List[Any]], text: str, method: str, n: int) -> Dict[str, Any]:
    row_id = parent["id"][0]
    return {
        "id": f"{row_id}~{method}~{n}",
        "lang": parent["lang"][0],
        "text": text,
        "tokens": words(text),
        "group_id": parent["group_id"][0],
        "source": parent["source"][0],
        AUGMENTED: 1,
        AUG_METHOD: method,
    }


class GenerateOffline(beam.DoFn):
    """The model-free methods; yields candidates and (method, outcome) counts."""

    def __init__(self, config: AugmentationConfig, seed: int):
        self._config = config
        self._seed = seed

    def process(self, parent: Dict[str, List[Any]], values: Dict[Tuple[str, str], List[str]]) -> Iterator[Any]:
        text, lang, tags = parent["text"][0], parent["lang"][0], parent.get("slot_tags", [])
        for method in OFFLINE_METHODS:
            rng = _rng(self._seed, parent["id"][0], method)
            for n in range(_draws(getattr(self._config, method), rng)):
                if method == "slot_resample":
                    new = augmentation.slot_resample(text, tags, lang, values, rng)
                else:
                    new = getattr(augmentation, method)(text, rng)
                if new and text_key(lang, new) != text_key(lang, text):
                    yield beam.pvalue.TaggedOutput(CANDIDATES, _candidate(parent, new, method, n))
                else:
                    yield beam.pvalue.TaggedOutput(COUNTS, (method, "not_applicable"))


class RoundTrip(beam.DoFn):
    """Round-trip translation of batches of training rows of one language."""

    def __init__(self, route: RoundTripRoute, amount: float, num_beams: int, seed: int):
        self._route = route
        self._amount = amount
        self._num_beams = num_beams
        self._seed = seed
        self._translator: Optional[augmentation.RoundTripTranslator] = None

    def setup(self) -> None:
        self._translator = augmentation.RoundTripTranslator(
            self._route.to_pivot, self._route.from_pivot, self._num_beams
        )

    def process(self, batch: List[Dict[str, List[Any]]]) -> Iterator[Any]:
        method = f"round_trip:{self._route.pivot}"
        jobs = []
        for parent in batch:
            rng = _rng(self._seed, parent["id"][0], method)
            jobs.extend((parent, n) for n in range(_draws(self._amount, rng)))
        try:
            outputs = self._translator([parent["text"][0] for parent, _ in jobs]) if jobs else []
        except Exception as exc:  # one bad batch must not stop the job: dead-letter it
            outputs = []
            for parent, _ in jobs:
                yield beam.pvalue.TaggedOutput(
                    DEAD, dead_letter("round_trip", "translation_failed", repr(exc), parent["id"][0], parent["text"][0])
                )
        for (parent, n), new in zip(jobs, outputs):
            if new and text_key(parent["lang"][0], new) != text_key(parent["lang"][0], parent["text"][0]):
                yield beam.pvalue.TaggedOutput(CANDIDATES, _candidate(parent, new, method, n))
            else:
                yield beam.pvalue.TaggedOutput(COUNTS, (method, "not_applicable"))


def _slot_value_pairs(row: Dict[str, List[Any]]) -> Iterable[Tuple[Tuple[str, str], str]]:
    lang = row["lang"][0]
    return [((lang, name), value) for name, value in augmentation.slot_values(row["text"][0], row["slot_tags"])]


def _keep_new_texts(item: Tuple[Tuple[str, str], Dict[str, List[Any]]]) -> Iterator[Any]:
    _, grouped = item
    candidates = sorted(grouped["candidates"], key=lambda c: c["id"])
    origins = set(grouped["originals"])
    if origins:
        # Any eval/test copy is leakage; otherwise it merely repeats a training row.
        reason = "equals_eval_or_test_text" if origins & {"eval", "test"} else "equals_train_text"
        outcomes = [reason] * len(candidates)
    else:
        outcomes = ["emitted"] + ["duplicate_candidate"] * (len(candidates) - 1)
    for candidate, outcome in zip(candidates, outcomes):
        if outcome == "emitted":
            yield candidate
        yield beam.pvalue.TaggedOutput(COUNTS, (candidate[AUG_METHOD], outcome))


def build(
    pipeline: beam.Pipeline,
    aug: AugmentationConfig,
    seed: int,
    dataset_dir: str,
    output_dir: str,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Augment the training split of `dataset_dir` with `pipeline`; returns the summary."""
    published = [f"{SPLIT_DIR_PREFIX}{TRAIN}"]
    out = StagedOutput(output_dir, published, overwrite)
    started = time.time()

    with pipeline as p:
        splits = {s: p | f"Read{s}" >> ReadExamples(dataset_dir, s) for s in SPLITS}
        train = splits[TRAIN]
        values = (
            train
            | "SlotValues" >> beam.FlatMap(_slot_value_pairs)
            | "DistinctValues" >> beam.Distinct()
            | "GroupValues" >> beam.GroupByKey()
            | "SortValues" >> beam.MapTuple(lambda k, v: (k, sorted(v)))
        )
        generated = []
        counts = []
        dead = []
        if aug.enabled:
            offline = train | "Offline" >> beam.ParDo(
                GenerateOffline(aug, seed), beam.pvalue.AsDict(values)
            ).with_outputs(CANDIDATES, COUNTS)
            generated.append(offline[CANDIDATES])
            counts.append(offline[COUNTS])
            for i, route in enumerate(aug.round_trip.routes):
                translated = (
                    train
                    | f"Route{i}Lang" >> beam.Filter(lambda r, lang=route.lang: r["lang"][0] == lang)
                    | f"Route{i}Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=aug.round_trip.batch_size)
                    | f"Route{i}Translate"
                    >> beam.ParDo(RoundTrip(route, aug.round_trip.amount, aug.round_trip.num_beams, seed)).with_outputs(
                        CANDIDATES, COUNTS, DEAD
                    )
                )
                generated.append(translated[CANDIDATES])
                counts.append(translated[COUNTS])
                dead.append(translated[DEAD])
        candidates = (generated or [p | "NoCandidates" >> beam.Create([])]) | "AllCandidates" >> beam.Flatten()
        originals = [
            rows | f"Key{s}" >> beam.Map(lambda r, s=s: (text_key(r["lang"][0], r["text"][0]), s))
            for s, rows in splits.items()
        ]
        kept = (
            {
                "candidates": candidates | "KeyCandidates" >> beam.Map(lambda c: (text_key(c["lang"], c["text"]), c)),
                "originals": originals | "AllOriginals" >> beam.Flatten(),
            }
            | "JoinOnText" >> beam.CoGroupByKey()
            | "KeepNewTexts" >> beam.FlatMap(_keep_new_texts).with_outputs(COUNTS, main=CANDIDATES)
        )
        _ = kept[CANDIDATES] | "WriteAugmented" >> WriteExamples(out.staging, TRAIN)
        _ = (
            counts + [kept[COUNTS]]
            | "AllCounts" >> beam.Flatten()
            | "Count" >> beam.combiners.Count.PerElement()
            | "CountRecords" >> beam.MapTuple(lambda key, n: {"method": key[0], "outcome": key[1], "count": n})
            | "WriteCounts" >> WriteJsonLines(out.path("_counts", "augment"))
        )
        _ = (
            (dead or [p | "NoDead" >> beam.Create([])])
            | "AllDead" >> beam.Flatten()
            | "WriteDead" >> WriteJsonLines(out.path(DEAD_LETTER_DIR, "augment"))
        )
        _ = (
            train
            | "CountParents" >> beam.combiners.Count.Globally()
            | "WriteParents" >> WriteJsonLines(out.path("_counts", "parents"))
        )

    by_method: Dict[str, Counter] = {}
    parents = 0
    for record in read_jsonl(out.path("_counts", "*.jsonl")):
        if isinstance(record, int):
            parents = record
        else:
            by_method.setdefault(record["method"], Counter())[record["outcome"]] += record["count"]
    dead_rows = out.dead_letters()
    summary = {
        "status": "ok",
        "train_rows": parents,
        "emitted": sum(c["emitted"] for c in by_method.values()),
        "by_method": {m: dict(sorted(c.items())) for m, c in sorted(by_method.items())},
        "dead_lettered": len(dead_rows),
        "seconds": round(time.time() - started, 1),
    }
    out.publish(summary, published)
    print(f"augmentation: {out.output_dir}  ({summary['seconds']} s)")
    print(f"{summary['emitted']} new rows from {parents} training rows; dead-lettered {len(dead_rows)}")
    report_progress("augmentation: %d new rows from %d training rows", summary["emitted"], parents)
    for method, outcomes in summary["by_method"].items():
        print(f"  {method:<22}" + ", ".join(f"{k} {v}" for k, v in outcomes.items()))
    return summary


def run(
    argv: Optional[Sequence[str]] = None, save_main_session: bool = True, test_pipeline: Optional[beam.Pipeline] = None
) -> Dict[str, Any]:
    """The command line: augment a dataset folder; exits 2 on config or usage errors."""
    parser = argparse.ArgumentParser(prog="python -m beam_jobs.augment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset_dir", required=True, help="output of beam_jobs.build_dataset")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite", action="store_true")
    args, beam_args = parse_job_args(parser, argv)
    config = load_job_config(args, {"project": ProjectConfig, "augmentation": AugmentationConfig})
    pipeline = job_pipeline(config["beam"], beam_args, save_main_session, test_pipeline)
    return exit_on_job_error(
        lambda: build(
            pipeline, config["augmentation"], config["project"].seed, args.dataset_dir, args.output_dir, args.overwrite
        )
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run()
