"""Beam job: build the labelled intent + slot dataset as TFRecords split by template.

    python -m beam_jobs.build_dataset --config pipeline.yaml --output_dir DIR [beam args]

`build(pipeline, data, seed, output_dir)` is the job; `run(argv)` its command line (reads the
`project`, `data` and `beam` sections). Writes, under DIR (the layout of a TFX `Examples`
artifact, see `schemas.features`):
  Split-{train,eval,test}/data_tfrecord-*.gz   gzipped tf.train.Example
  summary.json                                counts, dead letters, timing
  dead_letter/build_dataset-*.jsonl           rejected rows with their reasons

Everything is written to a staging folder first and moved into place only when the job
succeeds, so a reader never sees half a dataset, and a previous dataset (`--overwrite`) is
replaced only then. A failed job (too many dead letters, no rows, an empty given split)
publishes `dead_letter/` and `summary.json` so the user can see why (under `DIR/failed/`
when DIR holds a good dataset, which stays), then raises `JobError`. Paths that cannot be
read (a folder, nothing matching) are refused before Beam starts (`UsageError`, exit 2).
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_jobs.cli import exit_on_job_error, job_pipeline, load_job_config, parse_job_args
from beam_jobs.config import DataConfig, SplitConfig
from beam_jobs.dataset import home_assistant
from beam_jobs.dataset.examples import WriteExamples
from beam_jobs.dataset.readers import check_files, numbered_lines, read_line
from beam_jobs.dataset.rows import RowError, assign_split, make_row, snap_spans_to_tokens, stable_hash
from beam_jobs.dataset.summary import build_summary, failure, print_summary
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
from schemas.features import SPLIT_DIR_PREFIX, SPLITS, TRAIN, LabelledRow, text_key

ROWS, DEAD, MERGED = "rows", "dead", "merged"
METRICS = "build_dataset"  # namespace of the job's Beam counters


def _dead(record: Dict[str, Any]) -> beam.pvalue.TaggedOutput:
    """A dead letter on the DEAD output, counted in Beam's metrics (in total and per code)."""
    Metrics.counter(METRICS, "dead_letters").inc()
    Metrics.counter(METRICS, f"dead_letters.{record['code']}").inc()
    return beam.pvalue.TaggedOutput(DEAD, record)


# --------------------------------------------------------------------------- sources


class SampleHomeAssistant(beam.PTransform):
    """Expand the Home Assistant templates into rows (and dead letters)."""

    def __init__(self, data: DataConfig, seed: int, templates: List[home_assistant.TemplateRef]):
        super().__init__()
        self._data = data
        self._seed = seed
        self._templates = templates

    def expand(self, pbegin):
        data, seed = self._data, self._seed
        value_lists = home_assistant.load_value_lists(data.home_assistant.value_lists)
        rows_counter = Metrics.counter(METRICS, "rows")
        counts = home_assistant.samples_per_template(
            self._templates,
            data.home_assistant.samples_per_template,
            data.home_assistant.train_rows_per_language,
            lambda ref: assign_split(ref.group_id, data.split.train, data.split.eval) == TRAIN,
        )

        def sample(ref: home_assistant.TemplateRef) -> Iterator[Any]:
            try:
                utterances = home_assistant.sample_template(ref, counts[ref], seed, value_lists)
            except Exception as exc:  # one odd template (or value list entry) is a dead letter
                reason = str(exc) if isinstance(exc, home_assistant.SkipTemplate) else f"{type(exc).__name__}: {exc}"
                yield _dead(dead_letter("sample", "template_error", reason, ref.group_id, ref.template))
                return
            for u in utterances:
                try:
                    row = make_row(
                        text=u.text,
                        intent=ref.intent,
                        lang=ref.lang,
                        source="home_assistant",
                        spans=snap_spans_to_tokens(u.text, u.spans),
                        group_id=ref.group_id,
                        row_id=f"home_assistant:{ref.lang}:{stable_hash(u.text)}",
                        max_tokens=data.max_tokens,
                    )
                except Exception as exc:
                    if isinstance(exc, RowError):
                        code, reason = exc.code, str(exc)
                    else:
                        code, reason = "row_error", f"{type(exc).__name__}: {exc}"
                    record = {
                        "text": u.text,
                        "intent": ref.intent,
                        "lang": ref.lang,
                        "spans": u.spans,
                        "template": ref.template,
                    }
                    yield _dead(dead_letter("normalize", code, reason, ref.group_id, record))
                    continue
                rows_counter.inc()
                yield row

        return (
            pbegin
            | "Templates" >> beam.Create(self._templates, reshuffle=True)
            | "Sample" >> beam.FlatMap(sample).with_outputs(DEAD, main=ROWS)
        )


class ParseLines(beam.DoFn):
    """(path:line, bytes) -> a row, nothing (blank or header line) or a counted dead letter;
    never an exception (`readers.read_line`)."""

    def __init__(self, data: DataConfig):
        self._data = data
        self.rows_counter = Metrics.counter(METRICS, "rows")

    def process(self, item: Tuple[str, bytes]) -> Iterator[Any]:
        location, raw = item
        try:
            row = read_line(raw, location, self._data)
        except RowError as exc:
            yield _dead(dead_letter("read", exc.code, str(exc), location, raw))
            return
        if row is not None:
            self.rows_counter.inc()
            yield row


class ReadLabelledFiles(beam.PTransform):
    """Read JSONL / MTOP / MultiATIS++ files (`patterns`) line by line, keeping `path:line`
    for errors."""

    def __init__(self, data: DataConfig, patterns: List[str]):
        super().__init__()
        self._data = data
        self._patterns = patterns

    def expand(self, pbegin):
        return (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> fileio.MatchAll()
            | "Open" >> fileio.ReadMatches()
            | "Lines" >> beam.FlatMap(numbered_lines)
            | "Parse" >> beam.ParDo(ParseLines(self._data)).with_outputs(DEAD, main=ROWS)
        )


class ReportTextsInSeveralSplits(beam.PTransform):
    """(split, row) pairs -> one record per text that the given splits share (kept where the
    files put it: the user's split is the user's decision, but it is never silent)."""

    def expand(self, split_rows):
        def shared(item: Tuple[Tuple[str, str], Iterable[Tuple[str, str]]]) -> Iterator[Dict[str, Any]]:
            (lang, _), found = item
            found = sorted(set(found))
            if len({split for split, _ in found}) > 1:
                yield {"kind": "shared_text", "key": [lang, found[0][1]], "count": 1,
                       "splits": sorted({split for split, _ in found})}  # fmt: skip

        return (
            split_rows
            | "KeyByText" >> beam.MapTuple(lambda split, r: (text_key(r.lang, r.text), (split, r.text)))
            | "GroupByText" >> beam.GroupByKey()
            | "Shared" >> beam.FlatMap(shared)
        )


class MergeDuplicateTexts(beam.PTransform):
    """Keep one row per (lang, text): two templates can yield the same sentence, and one text
    in two splits would leak. The row of the smallest group id wins, so the result is
    deterministic. {ROWS: the rows kept, MERGED: the rows merged away}."""

    def expand(self, rows):
        def pick(item: Tuple[Tuple[str, str], Iterable[LabelledRow]]) -> Iterator[Any]:
            group = sorted(item[1], key=lambda r: (r.group_id, r.intent))
            yield group[0]
            for row in group[1:]:
                yield beam.pvalue.TaggedOutput(MERGED, row)

        return (
            rows
            | "KeyByText" >> beam.Map(lambda r: ((r.lang, r.text), r))
            | "GroupByText" >> beam.GroupByKey()
            | "Pick" >> beam.FlatMap(pick).with_outputs(MERGED, main=ROWS)
        )


class AssignSplits(beam.PTransform):
    """rows -> (split, row) pairs by a hash of each row's group id (`rows.assign_split`), so
    that every row of a template or group lands in one split."""

    def __init__(self, split: SplitConfig):
        super().__init__()
        self._split = split

    def expand(self, rows):
        split = self._split
        return rows | "AssignSplit" >> beam.Map(lambda r: (assign_split(r.group_id, split.train, split.eval), r))


class ReadGivenSplits(beam.PTransform):
    """The files of each split the dataset gives (`data.paths` as a mapping) -> {ROWS: (split,
    row) pairs, DEAD: the dead letters of all of them}."""

    def __init__(self, data: DataConfig, given: Dict[str, List[str]]):
        super().__init__()
        self._data = data
        self._given = given

    def expand(self, pbegin):
        split_rows, dead = [], []
        for name, patterns in self._given.items():
            parsed = pbegin | f"Read{name}" >> ReadLabelledFiles(self._data, patterns)
            split_rows.append(parsed[ROWS] | f"Tag{name}" >> beam.Map(lambda r, name=name: (name, r)))
            dead.append(parsed[DEAD])
        return {ROWS: split_rows | "AllSplits" >> beam.Flatten(), DEAD: dead | "AllDead" >> beam.Flatten()}


# --------------------------------------------------------------------------- outputs


class WriteSplits(beam.PTransform):
    """(split, row) pairs -> one `Examples` split folder each."""

    def __init__(self, staging: str):
        super().__init__()
        self._staging = staging

    def expand(self, split_rows):
        by_split = split_rows | "BySplit" >> beam.Partition(lambda kv, n: SPLITS.index(kv[0]), len(SPLITS))
        for split, pcoll in zip(SPLITS, by_split):
            _ = (
                pcoll
                | f"ToDict{split}" >> beam.Map(lambda kv: kv[1].features())
                | f"Write{split}" >> WriteExamples(self._staging, split)
            )
        return split_rows


class CountByKey(beam.PTransform):
    """Elements -> one count record per key (`key` of an element): {"kind", "key", "count"},
    what `summary.build_summary` reads."""

    def __init__(self, kind: str, key: Callable[[Any], Tuple[str, ...]]):
        super().__init__()
        self._kind = kind
        self._key = key

    def expand(self, elements):
        kind = self._kind
        return (
            elements
            | "Key" >> beam.Map(self._key)
            | "Count" >> beam.combiners.Count.PerElement()
            | "ToRecord" >> beam.Map(lambda kv: {"kind": kind, "key": list(kv[0]), "count": kv[1]})
        )


# --------------------------------------------------------------------------- driver


def check_inputs(data: DataConfig) -> None:
    """Refuse input paths that cannot be read as files before Beam starts: a `UsageError`
    (exit 2) naming the config key, instead of a worker's traceback."""
    if data.source != "home_assistant":
        check_files(data.labelled_paths("data"))


def _templates(data: DataConfig) -> Tuple[List[home_assistant.TemplateRef], Dict[str, Any]]:
    """The Home Assistant templates to sample (none for another source) and what the summary
    says of them."""
    if data.source != "home_assistant":
        return [], {}
    value_lists = home_assistant.load_value_lists(data.home_assistant.value_lists)
    templates, skipped = home_assistant.list_templates(data.languages, value_lists, data.home_assistant.skip_wildcards)
    return templates, {"templates_used": len(templates), "templates_skipped": dict(skipped.most_common())}


def _split_lang_intent(split_row: Tuple[str, LabelledRow]) -> Tuple[str, str, str]:
    split, row = split_row
    return split, row.lang, row.intent


def _run_pipeline(
    pipeline: beam.Pipeline, data: DataConfig, seed: int, out: StagedOutput, templates: List[home_assistant.TemplateRef]
) -> None:
    """Rows from the source, each in one split, written as `Examples` into `out`'s staging
    folder with their count records and dead letters."""
    # The dataset's own splits (a mapping in data.paths) or a hash of each row's group.
    given = None if data.source == "home_assistant" else data.given_splits()
    with pipeline as p:
        if data.source == "home_assistant":
            parsed = p | "SampleHomeAssistant" >> SampleHomeAssistant(data, seed, templates)
            merged = parsed[ROWS] | "MergeDuplicateTexts" >> MergeDuplicateTexts()
            _ = (
                merged[MERGED]
                | "CountMerged" >> CountByKey("merged", lambda _: ("merged",))
                | "WriteMerged" >> WriteJsonLines(out.path("_counts", "merged"))
            )
            split_rows = merged[ROWS] | "AssignSplits" >> AssignSplits(data.split)
        elif given is None:
            parsed = p | "ReadLabelledFiles" >> ReadLabelledFiles(data, data.all_paths())
            split_rows = parsed[ROWS] | "AssignSplits" >> AssignSplits(data.split)
        else:
            parsed = p | "ReadGivenSplits" >> ReadGivenSplits(data, given)
            split_rows = parsed[ROWS]
            _ = (
                split_rows
                | "ReportTextsInSeveralSplits" >> ReportTextsInSeveralSplits()
                | "WriteShared" >> WriteJsonLines(out.path("_counts", "shared"))
            )
        _ = split_rows | "WriteSplits" >> WriteSplits(out.staging)
        _ = (
            split_rows
            | "CountRows" >> CountByKey("rows", _split_lang_intent)
            | "WriteRows" >> WriteJsonLines(out.path("_counts", "rows"))
        )
        _ = parsed[DEAD] | "WriteDead" >> WriteJsonLines(out.path(DEAD_LETTER_DIR, "build_dataset"))


def publish_or_fail(summary: Dict[str, Any], data: DataConfig, out: StagedOutput, published: List[str]) -> None:
    """The failure policy: a dataset that must not be used (`summary.failure`) publishes only
    its summary and dead letters (a previous good dataset stays) and raises `JobError`; a good
    one is moved into place. Either way the summary is printed and its accounting logged."""
    problem = failure(summary, data)
    summary["status"] = "failed" if problem else "ok"
    where = out.publish(summary, [] if problem else published)
    print_summary(summary, where)
    report_progress(
        "dataset: rows in %d = out %d + dead-lettered %d (%s)",
        summary["rows_in"],
        summary["rows_out"],
        summary["dead_lettered"],
        ", ".join(f"{code} {n}" for code, n in summary["dead_letter_reasons"].items()) or "none",
    )
    if problem:
        kept = "" if where == out.output_dir else f"; the previous dataset in {out.output_dir} is unchanged"
        raise JobError(f"{problem}; see {FileSystems.join(where, DEAD_LETTER_DIR)}{kept}")


def build(
    pipeline: beam.Pipeline, data: DataConfig, seed: int, output_dir: str, overwrite: bool = False
) -> Dict[str, Any]:
    """Build the dataset with `pipeline`; returns the summary. Raises `UsageError` before any
    work for unreadable inputs or outputs, and `JobError` when the dataset must not be used
    (`publish_or_fail`)."""
    check_inputs(data)
    published = [f"{SPLIT_DIR_PREFIX}{s}" for s in SPLITS]
    out = StagedOutput(output_dir, published, overwrite)
    try:
        started = time.time()
        templates, about_templates = _templates(data)
        _run_pipeline(pipeline, data, seed, out, templates)
        extra = {"source": data.source, "seed": seed, **about_templates}
        summary = build_summary(read_jsonl(out.path("_counts", "*.jsonl")), out.dead_letters(), extra)
    except BaseException:
        out.discard()  # a crash leaves no staging folder (a killed job's is removed by the next run)
        raise
    summary["seconds"] = round(time.time() - started, 1)
    summary["max_dead_letter_ratio"] = data.max_dead_letter_ratio
    publish_or_fail(summary, data, out, published)
    return summary


def run(
    argv: Optional[Sequence[str]] = None, save_main_session: bool = True, test_pipeline: Optional[beam.Pipeline] = None
) -> Dict[str, Any]:
    """The command line: build the dataset; exits 2 on config or usage errors, 1 when it fails."""
    parser = argparse.ArgumentParser(prog="python -m beam_jobs.build_dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", required=True, help="where the dataset is written (local path, gs://, s3://)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --output_dir")
    args, beam_args = parse_job_args(parser, argv)
    config = load_job_config(args, {"project": ProjectConfig, "data": DataConfig})
    pipeline = job_pipeline(config["beam"], beam_args, save_main_session, test_pipeline)
    return exit_on_job_error(
        lambda: build(pipeline, config["data"], config["project"].seed, args.output_dir, args.overwrite)
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run()
