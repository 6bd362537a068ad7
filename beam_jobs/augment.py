"""Beam job: new unlabelled inputs for the teacher to label: augmentations of the training
split and the user's own unlabelled utterances (`data.unlabeled`).

    python -m beam_jobs.augment --config pipeline.yaml --dataset_dir DATASET --output_dir DIR [beam args]

`build(pipeline, augmentation, data, seed, dataset_dir, output_dir, teacher_base,
teacher_cache_dir)` is the job, wiring composite transforms (OfflineRows, CrossLingualRows,
RoundTripRows, ObeyRowRules, KeepNewTexts, CountOutcomes; each tested on its own); `summarize`
and `publish_or_fail` are its summary and failure policy. `run(argv)` is its command line (reads
the `project`, `augmentation`, `data`, `teacher` and `beam` sections).

Methods and amounts (new rows per training row) come from `augmentation:` in the config:
slot_resample, recombine (two rows of an intent joined where a slot of the same name starts or
ends), word_dropout, word_swap, char_distortion, cross_lingual (the row word by word in
another language, with a lexicon induced from teacher.base's encoder: `teacher.lexicon`), and
round_trip through pivot languages with local seq2seq models (the paper's paraphrasing) when
routes are configured. A small train split gets more: every amount but round_trip's is scaled
so that train rows x (1 + amounts) reaches `augmentation.min_train_rows` (at most x`max_scale`;
the factor is `amount_scale` in the summary).
The rows of `data.unlabeled` files are candidates too (aug_method `unlabeled`, also when
`augmentation.enabled` is false: they are data); a bad line is a dead letter.

Only the train split is a parent. A generated candidate must pass the dataset job's row rules
(`rows.check_text` with `data.max_tokens`, `data.languages`, ...; `data.max_line_bytes`): one
that does not is dropped and counted under the rule's code, e.g. `too_many_tokens` (a made
text, not a bad input: no dead letter). A candidate is dropped, and counted, when its text (case-
and space-insensitive) equals any original text of any split, in particular eval/test (the
leakage guard), or another candidate. Output: DIR/Split-train/data_tfrecord-*.gz with
id, lang, text, tokens, group_id (the parent's; for unlabelled rows their language and
text), source, augmented=1, aug_method; summary.json (with an `unlabeled` block: rows in =
emitted + dropped + dead-lettered); dead_letter/ (e.g. a failed translation batch, a bad
unlabelled line).
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
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_jobs import augmentation
from beam_jobs.cli import exit_on_job_error, job_pipeline, load_job_config, parse_job_args
from beam_jobs.config import AugmentationConfig, DataConfig, RoundTripRoute, UnlabeledSource
from beam_jobs.dataset.examples import ReadExamples, WriteExamples
from beam_jobs.dataset.readers import UNLABELED, check_files, decode_line, numbered_lines, read_unlabeled_line
from beam_jobs.dataset.rows import NOT_SELECTED, RowError, check_text
from beam_jobs.outputs import (
    DEAD_LETTER_DIR,
    JobError,
    StagedOutput,
    WriteJsonLines,
    dead_letter,
    read_jsonl,
    report_progress,
)
from config_core import ProjectConfig
from schemas.features import AUG_METHOD, AUGMENTED, SPLIT_DIR_PREFIX, SPLITS, TRAIN, text_key
from teacher import lexicon
from teacher.bases import resolve_base
from teacher.config import TeacherConfig
from tokenization import segmented, words, written_with_spaces

OFFLINE_METHODS = ("slot_resample", "recombine", "word_dropout", "word_swap", "char_distortion")
CANDIDATES, DEAD, COUNTS, LINES = "candidates", "dead", "counts", "lines"
METRICS = "augment"  # namespace of the job's Beam counters


def _draws(amount: float, rng: random.Random) -> int:
    whole = int(amount)
    return whole + (1 if rng.random() < amount - whole else 0)


def _rng(seed: int, row_id: str, method: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{row_id}|{method}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _candidate(
    parent: Dict[str, List[Any]], text: str, method: str, n: int, lang: Optional[str] = None
) -> Dict[str, Any]:
    row_id = parent["id"][0]
    return {
        "id": f"{row_id}~{method}~{n}",
        "lang": lang or parent["lang"][0],
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

    def process(
        self,
        parent: Dict[str, List[Any]],
        values: Dict[Tuple[str, str], List[str]],
        partners: Dict[Tuple[str, str], List[Tuple[str, Dict[str, int]]]],
        scale: float,
    ) -> Iterator[Any]:
        text, lang, tags = parent["text"][0], parent["lang"][0], parent.get("slot_tags", [])
        # The row's own edges and partners, once for all its recombine draws.
        intent_key, (_, edges) = _recombine_partner(parent) if self._config.recombine > 0 else (None, (text, {}))
        for method in OFFLINE_METHODS:
            rng = _rng(self._seed, parent["id"][0], method)
            for n in range(_draws(getattr(self._config, method) * scale, rng)):
                if method == "slot_resample":
                    new = augmentation.slot_resample(text, tags, lang, values, rng)
                elif method == "recombine":
                    new = augmentation.recombine(text, edges, partners.get(intent_key, []), rng)
                else:
                    new = getattr(augmentation, method)(text, rng)
                if new and text_key(lang, new) != text_key(lang, text):
                    yield beam.pvalue.TaggedOutput(CANDIDATES, _candidate(parent, new, method, n))
                else:
                    yield beam.pvalue.TaggedOutput(COUNTS, (method, "not_applicable"))


def _intent_key(row: Dict[str, List[Any]]) -> Tuple[str, str]:
    return row["lang"][0], (row.get("intent") or [""])[0]


def _recombine_partner(row: Dict[str, List[Any]]) -> Tuple[Tuple[str, str], Tuple[str, Dict[str, int]]]:
    """(lang, intent) -> (text, slot edges): what `augmentation.recombine` joins a row to."""
    text = row["text"][0]
    return _intent_key(row), (text, augmentation.slot_edges(text, row.get("slot_tags", [])))


def _training_words(row: Dict[str, List[Any]]) -> Iterable[Tuple[str, str]]:
    """(lang, case-folded word) of a training row's words (letters, not numbers or symbols).
    None of a text in a script written without spaces, unless it is word-segmented: its
    tokens are characters, which have no translation."""
    text = row["text"][0]
    if not (written_with_spaces(text) or segmented(text)):
        return
    for word in words(text):
        if lexicon.is_word(word):
            yield row["lang"][0], word.casefold()


def _induce_lexicon(
    vocabularies: List[Tuple[str, List[str]]], teacher_base: str, teacher_cache_dir: str, neighbours: int
) -> lexicon.Lexicon:
    """The cross-lingual lexicon between the training split's languages (none for one)."""
    train_words = {lang: ws for lang, ws in vocabularies if ws}
    if len(train_words) < 2:
        return {}
    encoder_dir = resolve_base(teacher_base, teacher_cache_dir)
    started = time.time()
    induced = lexicon.induce_lexicon(encoder_dir, train_words, train_words, neighbours)
    logging.info(
        "cross-lingual lexicon: %d language pairs, %s words, %.0f s",
        len(induced),
        {lang: len(ws) for lang, ws in train_words.items()},
        time.time() - started,
    )
    return induced


class CrossLingual(beam.DoFn):
    """A training row translated word by word into another language of the lexicon, drawn with
    weight (that language's training templates) ** -balance."""

    METHOD = "cross_lingual"

    def __init__(self, amount: float, balance: float, seed: int):
        self._amount = amount
        self._balance = balance
        self._seed = seed

    def process(
        self, parent: Dict[str, List[Any]], induced: lexicon.Lexicon, templates: Dict[str, int], scale: float
    ) -> Iterator[Any]:
        lang = parent["lang"][0]
        targets = sorted(tgt for src, tgt in induced if src == lang)
        weights = [templates[t] ** -self._balance for t in targets]
        rng = _rng(self._seed, parent["id"][0], self.METHOD)
        for n in range(_draws(self._amount * scale, rng)):
            target = rng.choices(targets, weights)[0] if targets else None
            new = augmentation.translate_words(parent["text"][0], induced[(lang, target)], rng) if target else None
            if new:
                yield beam.pvalue.TaggedOutput(CANDIDATES, _candidate(parent, new, self.METHOD, n, target))
            else:
                yield beam.pvalue.TaggedOutput(COUNTS, (self.METHOD, "not_applicable"))


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


class ParseUnlabeled(beam.DoFn):
    """(path:line, bytes) of a `data.unlabeled` file -> a candidate or a counted dead letter
    (`readers.read_unlabeled_line`, never an exception); each line is also counted as a row
    in or a blank line."""

    def __init__(self, lang: Optional[str], data: DataConfig):
        self._lang = lang
        self._data = data
        self._rows = Metrics.counter(METRICS, "unlabeled_rows")
        self._dead = Metrics.counter(METRICS, "dead_letters")

    def process(self, item: Tuple[str, bytes]) -> Iterator[Any]:
        location, raw = item
        try:
            row = read_unlabeled_line(raw, location, self._lang, self._data)
        except RowError as exc:
            self._rows.inc()
            self._dead.inc()
            Metrics.counter(METRICS, f"dead_letters.{exc.code}").inc()
            yield beam.pvalue.TaggedOutput(LINES, "rows_in")
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter(UNLABELED, exc.code, str(exc), location, raw))
            return
        if row is None:
            yield beam.pvalue.TaggedOutput(LINES, "blank_lines")
            return
        self._rows.inc()
        yield beam.pvalue.TaggedOutput(LINES, "rows_in")
        yield {**row, AUGMENTED: 1, AUG_METHOD: UNLABELED}


class ReadUnlabeled(beam.PTransform):
    """The lines of one `data.unlabeled` entry's files -> candidates, dead letters, line counts."""

    def __init__(self, source: UnlabeledSource, data: DataConfig):
        super().__init__()
        self._source = source
        self._data = data

    def expand(self, pbegin):
        return (
            pbegin
            | "Pattern" >> beam.Create([self._source.path])
            | "Match" >> fileio.MatchAll()
            | "Open" >> fileio.ReadMatches()
            | "Lines" >> beam.FlatMap(numbered_lines)
            | "Parse"
            >> beam.ParDo(ParseUnlabeled(self._source.lang, self._data)).with_outputs(LINES, DEAD, main=CANDIDATES)
        )


def _slot_value_pairs(row: Dict[str, List[Any]]) -> Iterable[Tuple[Tuple[str, str], str]]:
    lang = row["lang"][0]
    return [((lang, name), value) for name, value in augmentation.slot_values(row["text"][0], row["slot_tags"])]


def _obey_row_rules(candidate: Dict[str, Any], data: DataConfig) -> Iterator[Any]:
    """A generated candidate that a dataset row could be: the dataset job's rules for text and
    language (`rows.check_text`: `data.max_tokens`, `data.languages`, control characters...)
    and, as a line of its own, `data.max_line_bytes`. Else nothing, and (method, the rule's
    code), e.g. `too_many_tokens`, is counted: a made text, not a bad input, so no dead letter."""
    try:
        check_text(candidate["text"], candidate["lang"], data.max_tokens, data.languages)
        decode_line(candidate["text"].encode("utf-8"), data.max_line_bytes)
    except RowError as exc:
        yield beam.pvalue.TaggedOutput(COUNTS, (candidate[AUG_METHOD], exc.code))
        return
    yield candidate


def _keep_new_texts(item: Tuple[Tuple[str, str], Dict[str, List[Any]]]) -> Iterator[Any]:
    _, grouped = item
    # Two unlabelled files may repeat an id: the text and method then settle the order.
    candidates = sorted(grouped["candidates"], key=lambda c: (c["id"], c[AUG_METHOD], c["text"]))
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


def _unlabeled_summary(lines: Counter, outcomes: Counter, dead: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The `unlabeled` block of summary.json: rows in = emitted + dropped + dead-lettered."""
    reasons = Counter(d["code"] for d in dead)
    # As in the dataset job, rows of languages left out are a choice, not in the ratio.
    considered = lines["rows_in"] - reasons[NOT_SELECTED]
    return {
        "rows_in": lines["rows_in"],
        "emitted": outcomes["emitted"],
        "dropped": {outcome: n for outcome, n in sorted(outcomes.items()) if outcome != "emitted"},
        "dead_lettered": len(dead),
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "rows_not_selected": reasons[NOT_SELECTED],
        "dead_letter_ratio": (len(dead) - reasons[NOT_SELECTED]) / considered if considered else 0.0,
        "blank_lines": lines["blank_lines"],
    }


def _unlabeled_failure(unlabeled: Dict[str, Any], data: DataConfig) -> Optional[str]:
    """Why the job must not publish (None: it may): rows lost, files without rows, too many
    dead letters, or no row in a selected language."""
    if not data.unlabeled:
        return None
    rows_in, dead, not_selected = unlabeled["rows_in"], unlabeled["dead_lettered"], unlabeled["rows_not_selected"]
    accounted = unlabeled["emitted"] + sum(unlabeled["dropped"].values()) + dead
    if rows_in != accounted:
        return f"data.unlabeled: rows were lost: {rows_in} in, {accounted} emitted, dropped or dead-lettered"
    if rows_in == 0:
        files = ", ".join(f"data.unlabeled[{i}].path={s.path}" for i, s in enumerate(data.unlabeled))
        return f"data.unlabeled: the files have no rows (only blank lines, or empty files): {files}"
    if unlabeled["dead_letter_ratio"] > data.max_dead_letter_ratio:
        reasons = ", ".join(f"{code} {n}" for code, n in unlabeled["dead_letter_reasons"].items())
        return (
            f"data.unlabeled: {dead - not_selected} of {rows_in - not_selected} rows dead-lettered ({reasons}; "
            f"{unlabeled['dead_letter_ratio']:.1%} > data.max_dead_letter_ratio={data.max_dead_letter_ratio:.1%})"
        )
    if not_selected == rows_in:
        return (
            f"data.unlabeled: no row is in a language of data.languages ({', '.join(data.languages)}); give the "
            "entries a listed `lang`, or add the rows' languages to data.languages"
        )
    return None


class SlotValueLists(beam.PTransform):
    """Training rows -> ((lang, slot), its distinct values, sorted): what slot_resample draws."""

    def expand(self, train):
        return (
            train
            | "SlotValues" >> beam.FlatMap(_slot_value_pairs)
            | "DistinctValues" >> beam.Distinct()
            | "GroupValues" >> beam.GroupByKey()
            | "SortValues" >> beam.MapTuple(lambda key, values: (key, sorted(values)))
        )


class RecombinePartners(beam.PTransform):
    """Training rows -> ((lang, intent), [(text, slot edges)] sorted by text): what recombine joins."""

    def expand(self, train):
        return (
            train
            | "Partners" >> beam.Map(_recombine_partner)
            | "GroupPartners" >> beam.GroupByKey()
            | "SortPartners" >> beam.MapTuple(lambda key, rows: (key, sorted(rows, key=lambda row: row[0])))
        )


class OfflineRows(beam.PTransform):
    """Training rows -> candidates and (method, outcome) counts of the model-free methods, each
    amount times `scale` (a singleton side input)."""

    def __init__(self, aug: AugmentationConfig, seed: int, scale: Any):
        super().__init__()
        self._aug = aug
        self._seed = seed
        self._scale = scale

    def expand(self, train):
        values = train | "SlotValueLists" >> SlotValueLists()
        partners = train | "RecombinePartners" >> RecombinePartners()
        return train | "Generate" >> beam.ParDo(
            GenerateOffline(self._aug, self._seed),
            beam.pvalue.AsDict(values),
            beam.pvalue.AsDict(partners),
            self._scale,
        ).with_outputs(CANDIDATES, COUNTS)


class CrossLingualRows(beam.PTransform):
    """Training rows -> candidates and counts of word-by-word translation, with a lexicon
    induced from the training words and teacher.base's encoder."""

    def __init__(self, aug: AugmentationConfig, seed: int, teacher_base: str, teacher_cache_dir: str, scale: Any):
        super().__init__()
        self._aug = aug
        self._seed = seed
        self._teacher_base = teacher_base
        self._teacher_cache_dir = teacher_cache_dir
        self._scale = scale

    def expand(self, train):
        induced = (
            train
            | "TrainingWords" >> beam.FlatMap(_training_words)
            | "DistinctWords" >> beam.Distinct()
            | "GroupWords" >> beam.GroupByKey()
            | "SortWords" >> beam.MapTuple(lambda lang, ws: (lang, sorted(ws)))
            | "AllVocabularies" >> beam.combiners.ToList()
            | "InduceLexicon"
            >> beam.Map(
                _induce_lexicon, self._teacher_base, self._teacher_cache_dir, self._aug.cross_lingual_neighbours
            )
        )
        templates = (
            train
            | "LanguageTemplates" >> beam.Map(lambda r: (r["lang"][0], r["group_id"][0]))
            | "DistinctTemplates" >> beam.Distinct()
            | "TemplatesPerLanguage" >> beam.combiners.Count.PerKey()
        )
        return train | "Translate" >> beam.ParDo(
            CrossLingual(self._aug.cross_lingual, self._aug.cross_lingual_balance, self._seed),
            beam.pvalue.AsSingleton(induced),
            beam.pvalue.AsDict(templates),
            self._scale,
        ).with_outputs(CANDIDATES, COUNTS)


class RoundTripRows(beam.PTransform):
    """Training rows of one route's language -> candidates, counts and dead letters of its
    round-trip translation."""

    def __init__(self, route: RoundTripRoute, aug: AugmentationConfig, seed: int):
        super().__init__()
        self._route = route
        self._aug = aug
        self._seed = seed

    def expand(self, train):
        trip = self._aug.round_trip
        return (
            train
            | "Lang" >> beam.Filter(lambda r, lang=self._route.lang: r["lang"][0] == lang)
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=trip.batch_size)
            | "Translate"
            >> beam.ParDo(RoundTrip(self._route, trip.amount, trip.num_beams, self._seed)).with_outputs(
                CANDIDATES, COUNTS, DEAD
            )
        )


class ObeyRowRules(beam.PTransform):
    """Generated candidates -> those a dataset row could be, and (method, rule code) counts of
    the others (`_obey_row_rules`)."""

    def __init__(self, data: DataConfig):
        super().__init__()
        self._data = data

    def expand(self, candidates):
        return candidates | "RowRules" >> beam.FlatMap(_obey_row_rules, self._data).with_outputs(
            COUNTS, main=CANDIDATES
        )


class KeepNewTexts(beam.PTransform):
    """{"candidates": ..., and each split's rows by split name} -> the candidates whose text is
    no original text of any split nor an earlier candidate's, and (method, outcome) counts."""

    def expand(self, inputs):
        candidates = inputs["candidates"]
        originals = [
            rows | f"Key{split}" >> beam.Map(lambda r, s=split: (text_key(r["lang"][0], r["text"][0]), s))
            for split, rows in sorted(inputs.items())
            if split != "candidates"
        ]
        return (
            {
                "candidates": candidates | "KeyCandidates" >> beam.Map(lambda c: (text_key(c["lang"], c["text"]), c)),
                "originals": originals | "AllOriginals" >> beam.Flatten(),
            }
            | "JoinOnText" >> beam.CoGroupByKey()
            | "KeepNew" >> beam.FlatMap(_keep_new_texts).with_outputs(COUNTS, main=CANDIDATES)
        )


class CountOutcomes(beam.PTransform):
    """(method, outcome) items -> {"method", "outcome", "count"} records."""

    def expand(self, counts):
        return (
            counts
            | "Count" >> beam.combiners.Count.PerElement()
            | "Records" >> beam.MapTuple(lambda key, n: {"method": key[0], "outcome": key[1], "count": n})
        )


def summarize(out: StagedOutput, aug: AugmentationConfig, started: float) -> Dict[str, Any]:
    """summary.json of a finished pipeline, from the counts and dead letters it wrote."""
    by_method: Dict[str, Counter] = {}
    lines_read: Counter = Counter()
    parents = 0
    for record in read_jsonl(out.path("_counts", "*.jsonl")):
        if isinstance(record, int):
            parents = record
        elif "unlabeled" in record:
            lines_read[record["unlabeled"]] += record["count"]
        else:
            by_method.setdefault(record["method"], Counter())[record["outcome"]] += record["count"]
    dead_rows = out.dead_letters()
    unlabeled = _unlabeled_summary(
        lines_read, by_method.get(UNLABELED, Counter()), [d for d in dead_rows if d["stage"] == UNLABELED]
    )
    return {
        "status": "ok",
        "train_rows": parents,
        # Every amount x this (augmentation.min_train_rows: a small train split gets more rows).
        "amount_scale": round(aug.scale(parents), 3) if aug.enabled else 1.0,
        "emitted": sum(c["emitted"] for c in by_method.values()),
        "by_method": {m: dict(sorted(c.items())) for m, c in sorted(by_method.items())},
        "unlabeled": unlabeled,
        "dead_lettered": len(dead_rows),
        "seconds": round(time.time() - started, 1),
    }


def publish_or_fail(summary: Dict[str, Any], data: DataConfig, out: StagedOutput, published: List[str]) -> None:
    """Publish the output (or, when the unlabelled rows must not be used, only the summary and
    dead letters, then raise a JobError) and say what was made."""
    unlabeled = summary["unlabeled"]
    problem = _unlabeled_failure(unlabeled, data)
    if problem:
        summary["status"] = "failed"
    where = out.publish(summary, [] if problem else published)
    print(f"augmentation: {where}  ({summary['seconds']} s, status {summary['status']})")
    parents = summary["train_rows"]
    sources = f" and {unlabeled['rows_in']} unlabelled rows" if data.unlabeled else ""
    print(
        f"{summary['emitted']} new rows from {parents} training rows{sources} (amounts x{summary['amount_scale']}); "
        f"dead-lettered {summary['dead_lettered']}"
    )
    report_progress("augmentation: %d new rows from %d training rows%s", summary["emitted"], parents, sources)
    for method, outcomes in summary["by_method"].items():
        print(f"  {method:<22}" + ", ".join(f"{k} {v}" for k, v in outcomes.items()))
    if data.unlabeled:
        accounting = (
            f"unlabelled rows in {unlabeled['rows_in']} = emitted {unlabeled['emitted']} + dropped "
            f"{sum(unlabeled['dropped'].values())} + dead-lettered {unlabeled['dead_lettered']} ("
            + (", ".join(f"{code} {n}" for code, n in unlabeled["dead_letter_reasons"].items()) or "none")
            + ")"
        )
        print(accounting)
        report_progress("augmentation: %s", accounting)
    if problem:
        kept = "" if where == out.output_dir else f"; the previous output in {out.output_dir} is unchanged"
        raise JobError(f"{problem}; see {FileSystems.join(where, DEAD_LETTER_DIR)}{kept}")


def build(
    pipeline: beam.Pipeline,
    aug: AugmentationConfig,
    data: DataConfig,
    seed: int,
    dataset_dir: str,
    output_dir: str,
    teacher_base: str,
    teacher_cache_dir: str,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Augment the training split of `dataset_dir` and add the rows of `data.unlabeled` with
    `pipeline`; returns the summary. Of `data` it reads `unlabeled` and the rules its rows obey
    (the unlabelled and the generated ones): `languages`, `default_lang`, `max_line_bytes`,
    `max_tokens`, `max_dead_letter_ratio`.

    Unreadable unlabelled inputs are a `UsageError` before any work; a `JobError` when they must
    not be used (`_unlabeled_failure`), after publishing the dead letters and the summary (under
    `failed/` when `output_dir` holds a good output, which stays)."""
    check_files((f"data.unlabeled[{i}].path", source.path) for i, source in enumerate(data.unlabeled))
    published = [f"{SPLIT_DIR_PREFIX}{TRAIN}"]
    out = StagedOutput(output_dir, published, overwrite)
    started = time.time()

    with pipeline as p:
        splits = {s: p | f"Read{s}" >> ReadExamples(dataset_dir, s) for s in SPLITS}
        train = splits[TRAIN]
        parents = train | "CountParents" >> beam.combiners.Count.Globally()
        scale = beam.pvalue.AsSingleton(parents | "AmountScale" >> beam.Map(aug.scale))
        generated, counts, dead = [], [], []
        if aug.enabled:
            made = [train | "Offline" >> OfflineRows(aug, seed, scale)]
            if aug.cross_lingual > 0:
                made.append(
                    train | "CrossLingual" >> CrossLingualRows(aug, seed, teacher_base, teacher_cache_dir, scale)
                )
            for i, route in enumerate(aug.round_trip.routes):
                translated = train | f"Route{i}" >> RoundTripRows(route, aug, seed)
                made.append(translated)
                dead.append(translated[DEAD])
            checked = (
                [m[CANDIDATES] for m in made] | "AllGenerated" >> beam.Flatten() | "RowRules" >> ObeyRowRules(data)
            )
            generated.append(checked[CANDIDATES])
            counts.extend([m[COUNTS] for m in made] + [checked[COUNTS]])
        # The unlabelled rows passed the same rules when read (`read_unlabeled_line`).
        lines = []
        for i, source in enumerate(data.unlabeled):
            read = p | f"ReadUnlabeled{i}" >> ReadUnlabeled(source, data)
            generated.append(read[CANDIDATES])
            dead.append(read[DEAD])
            lines.append(read[LINES])
        if lines:
            _ = (
                lines
                | "AllLines" >> beam.Flatten()
                | "CountLines" >> beam.combiners.Count.PerElement()
                | "LineRecords" >> beam.MapTuple(lambda kind, n: {"unlabeled": kind, "count": n})
                | "WriteLines" >> WriteJsonLines(out.path("_counts", "unlabeled"))
            )
        candidates = (generated or [p | "NoCandidates" >> beam.Create([])]) | "AllCandidates" >> beam.Flatten()
        kept = {"candidates": candidates, **splits} | "KeepNewTexts" >> KeepNewTexts()
        _ = kept[CANDIDATES] | "WriteAugmented" >> WriteExamples(out.staging, TRAIN)
        _ = (
            counts + [kept[COUNTS]]
            | "AllCounts" >> beam.Flatten()
            | "CountOutcomes" >> CountOutcomes()
            | "WriteCounts" >> WriteJsonLines(out.path("_counts", "augment"))
        )
        _ = (
            (dead or [p | "NoDead" >> beam.Create([])])
            | "AllDead" >> beam.Flatten()
            | "WriteDead" >> WriteJsonLines(out.path(DEAD_LETTER_DIR, "augment"))
        )
        _ = parents | "WriteParents" >> WriteJsonLines(out.path("_counts", "parents"))

    summary = summarize(out, aug, started)
    publish_or_fail(summary, data, out, published)
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
    config = load_job_config(
        args,
        {"project": ProjectConfig, "augmentation": AugmentationConfig, "data": DataConfig, "teacher": TeacherConfig},
    )
    pipeline = job_pipeline(config["beam"], beam_args, save_main_session, test_pipeline)
    return exit_on_job_error(
        lambda: build(
            pipeline,
            config["augmentation"],
            config["data"],
            config["project"].seed,
            args.dataset_dir,
            args.output_dir,
            config["teacher"].base,
            config["teacher"].cache_dir,
            args.overwrite,
        )
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run()
