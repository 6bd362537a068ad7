"""Beam job: mass teacher inference into soft-label TFRecords (Beam RunInference).

    python -m beam_jobs.teacher_inference --config pipeline.yaml --dataset_dir DATASET \
        [--augmented_dir AUGMENTED] --teacher_dir TEACHER --output_dir DIR [beam args]

`build(pipeline, inference, dataset_dir, augmented_dir, teacher_dir, output_dir, labels)` is
the job; `run(argv)` its command line (reads `teacher.inference` and `beam`).

Every original row (all splits) and every augmented row (train) goes through Beam's Hugging
Face model handler (`HuggingFaceModelHandlerKeyedTensor`, batched between
`teacher.inference.min_batch_size` and `max_batch_size`, on the GPU when there is one), the
rows encoded first and sorted by their number of sub-tokens within windows of `SORT_BATCHES`
batches, so that batches pad little.
Output: DIR/Split-{train,eval,test}/data_tfrecord-*.gz with the input features plus
`teacher_intent_logits` (#intents), `teacher_slot_logits` (#tokens x #tags, row-major,
word-aligned on each word's first sub-token), `teacher_intent`, `teacher_slot_tags`,
`augmented`, `aug_method`; each row is checked against schemas/soft_labels. The logits
follow `labels` (the pipeline's label vocabularies; the teacher's own order when not given),
recorded in summary.json.
Failures (encoding, inference, schema) go to dead_letter/ with reasons;
rows in = rows out + dead-lettered.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference
from apache_beam.utils.windowed_value import WindowedValue

import schemas
from beam_jobs.cli import exit_on_job_error, job_pipeline, load_job_config, parse_job_args
from beam_jobs.dataset.examples import ReadExamples, WriteExamples
from beam_jobs.outputs import (
    DEAD_LETTER_DIR,
    JobError,
    StagedOutput,
    UsageError,
    WriteJsonLines,
    dead_letter,
    read_jsonl,
    report_progress,
)
from schemas import bio
from schemas.features import (
    AUG_METHOD,
    AUGMENTED,
    SPLIT_DIR_PREFIX,
    SPLITS,
    TEACHER_INTENT,
    TEACHER_INTENT_LOGITS,
    TEACHER_SLOT_LOGITS,
    TEACHER_SLOT_TAGS,
    TRAIN,
    split_file_pattern,
)
from teacher.config import TeacherConfig, TeacherInferenceConfig

Row = Dict[str, List[Any]]
Labels = Tuple[List[str], List[str]]  # (intents, slot tags)
PROGRESS_EVERY = 10000  # a progress line per 10,000 rows: ~7 lines for the embedded default
SORT_BATCHES = 16  # rows sorted by length together, in batches of teacher.inference.max_batch_size
ROWS, DEAD = "rows", "dead"
SPLIT_KEY = "_split"  # the split a row is written to, on the row while the job runs


def joint_inference(
    batch: Sequence[Dict[str, Any]], model, device, inference_args=None, model_id=None
) -> Iterable[PredictionResult]:
    """Pad the batch to its longest row (not to max_length) and run the joint teacher.

    `inference_args={"bf16": True}` autocasts to bfloat16 (see teacher.inference.precision).
    """
    import torch

    from teacher.device import torch_device
    from teacher.inputs import collate

    inputs = collate(batch, pad_token_id=model.config.pad_token_id or 0)
    # Beam hands over its own device name ("CPU"/"GPU"), not a torch device.
    on = torch_device(device)
    inputs = {k: v.to(on) for k, v in inputs.items()}
    bf16 = bool((inference_args or {}).get("bf16"))
    with torch.no_grad(), torch.autocast(on.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(**inputs)
    intents = out.intent_logits.float().cpu().numpy()
    # A word the tokenizer gives no sub-token (e.g. a lone combining mark that an uncased
    # BERT normaliser strips) has no representation: its soft label is uniform.
    slots = (out.slot_logits * inputs["word_mask"].unsqueeze(-1)).float().cpu().numpy()
    return [
        PredictionResult(
            example, {"intent_logits": intents[i], "slot_logits": slots[i, : len(example["word_index"])]}, model_id
        )
        for i, example in enumerate(batch)
    ]


class SortByLength(beam.DoFn):
    """Passes encoded rows (row, teacher inputs) on shortest first, `buffer_rows` at a time (and
    the rest at the end of a bundle), so that the batches RunInference forms from consecutive
    rows hold rows of one length: a batch is padded to its longest row, and random neighbours
    padded the default data by ~1.3x."""

    def __init__(self, buffer_rows: int):
        self._size = buffer_rows
        self._buffer: List[Tuple[Tuple[Row, Dict[str, Any]], Any, Any]] = []

    def start_bundle(self) -> None:
        self._buffer = []

    def process(
        self, item: Tuple[Row, Dict[str, Any]], timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam
    ) -> Iterator[Any]:
        self._buffer.append((item, timestamp, window))
        if len(self._buffer) >= self._size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        items, self._buffer = self._buffer, []
        for item, timestamp, window in sorted(items, key=lambda i: len(i[0][1]["input_ids"])):
            yield WindowedValue(item, timestamp, [window])


class EncodeWords:
    """row -> (row, teacher inputs), the keyed handler's input; needs the teacher's tokenizer."""

    def __init__(self, teacher_dir: str, max_length: int):
        self._teacher_dir = teacher_dir
        self._max_length = max_length
        self._tokenizer = None

    def __call__(self, row: Row) -> Tuple[Row, Dict[str, Any]]:
        from teacher.inputs import encode_words
        from teacher.model import load_tokenizer

        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self._teacher_dir)
        inputs = encode_words(row["tokens"], self._tokenizer, self._max_length)
        if len(inputs["input_ids"]) >= self._max_length and not bool(inputs["word_mask"][-1]):
            raise ValueError(
                f"{len(row['tokens'])} words need more than teacher.inference.max_length={self._max_length} sub-tokens"
            )
        return row, inputs


class SchemaCheck:
    """Presence and value counts of schemas/soft_labels, checked per row."""

    def __init__(self, schema_path: str):
        # The schema proto and text_format, not TFDV: importing TFDV costs ~2 s of job start-up.
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2

        with open(schema_path, encoding="utf-8") as f:
            schema = text_format.Parse(f.read(), schema_pb2.Schema())
        self._rules = []
        for feature in schema.feature:
            required = feature.presence.min_fraction >= 1.0
            vc = feature.value_count
            self._rules.append(
                (feature.name, required, vc.min if vc.HasField("min") else 0, vc.max if vc.HasField("max") else 0)
            )

    def problems(self, row: Dict[str, Any]) -> List[str]:
        found = []
        for name, required, lo, hi in self._rules:
            if name not in row:
                if required:
                    found.append(f"missing feature {name!r}")
                continue
            n = len(row[name]) if isinstance(row[name], (list, tuple)) else 1
            if n < lo or (hi and n > hi):
                found.append(f"feature {name!r} has {n} values, schema allows [{lo}, {hi or 'inf'}]")
        return found


def label_order(teacher_labels: Labels, wanted: Labels) -> Tuple[Optional[List[int]], Optional[List[int]]]:
    """Column indices that put the teacher's logits in the `wanted` label order (None: already
    in that order). Raises `JobError` when the teacher lacks a wanted label."""
    orders = []
    for kind, have, want in zip(("intent", "slot tag"), teacher_labels, wanted):
        missing = [label for label in want if label not in have]
        if missing:
            raise JobError(
                f"the teacher has no {kind} label {', '.join(map(repr, missing[:5]))} of the pipeline's vocabulary"
            )
        orders.append(None if list(have) == list(want) else [have.index(label) for label in want])
    return orders[0], orders[1]


class ToSoftLabelRow(beam.DoFn):
    """(row, prediction) -> the output example, or a dead letter when it breaks the schema."""

    def __init__(self, teacher_labels: Labels, labels: Labels):
        self._intents, self._tags = labels
        self._intent_order, self._tag_order = label_order(teacher_labels, labels)
        self._check: Optional[SchemaCheck] = None
        self._labelled = beam.metrics.Metrics.counter("teacher_inference", "rows_labelled")

    def setup(self) -> None:
        self._check = SchemaCheck(schemas.SOFT_LABEL_SCHEMA)
        self._done = 0
        self._started = time.time()

    def process(self, item: Tuple[Row, PredictionResult]) -> Iterator[Any]:
        row, result = item
        self._labelled.inc()
        self._done += 1
        if self._done % PROGRESS_EVERY == 0:  # progress per worker; Beam's counter has the total
            rate = self._done / max(time.time() - self._started, 1e-9)
            report_progress("teacher inference: %d rows labelled by this worker (%.0f rows/s)", self._done, rate)
        intent_logits, slot_logits = result.inference["intent_logits"], result.inference["slot_logits"]
        if self._intent_order is not None:
            intent_logits = np.take(intent_logits, self._intent_order, axis=-1)
        if self._tag_order is not None:
            slot_logits = np.take(slot_logits, self._tag_order, axis=-1)
        out: Dict[str, Any] = {k: v for k, v in row.items() if k not in (AUGMENTED, AUG_METHOD)}
        out[TEACHER_INTENT_LOGITS] = intent_logits.tolist()
        out[TEACHER_SLOT_LOGITS] = slot_logits.reshape(-1).tolist()
        out[TEACHER_INTENT] = self._intents[int(intent_logits.argmax())]
        out[TEACHER_SLOT_TAGS] = [self._tags[i] for i in bio.decode(slot_logits, self._tags)]
        out[AUGMENTED] = int(row.get(AUGMENTED, [0])[0])
        out[AUG_METHOD] = row.get(AUG_METHOD, [""])[0]
        problems = self._check.problems(out)
        if problems:
            yield beam.pvalue.TaggedOutput(
                DEAD, dead_letter("schema", "schema_violation", "; ".join(problems), row["id"][0], _plain(row))
            )
        else:
            yield out


def _plain(row: Row) -> Dict[str, Any]:
    return {k: (v[0] if len(v) == 1 else v) for k, v in row.items()}


def _reason(error: Any) -> str:
    # Beam's exception handling hands errors over as (type, repr, traceback lines).
    return str(error[1]) if isinstance(error, tuple) and len(error) > 1 else repr(error)


def _failed_batch(item: Tuple[Any, Any]) -> List[Dict[str, Any]]:
    batch, error = item
    return [dead_letter("inference", "inference_failed", _reason(error), key["id"][0], _plain(key)) for key, _ in batch]


def _failed_encoding(item: Tuple[Any, Any]) -> Dict[str, Any]:
    row, error = item
    return dead_letter("encode", "encode_failed", _reason(error), row["id"][0], _plain(row))


class Bf16LinearTeacher:
    """`model_class` for Beam's handler: the joint teacher with the weights of its linear layers
    stored in bfloat16, for bf16 autocast inference.

    Autocast casts a linear layer's fp32 weight to bf16 on every call, and caches the cast only
    for weights that require grad within one autocast context; Beam's handler freezes the
    weights and calls the inference fn once per batch, so all ~21M linear weights were cast
    again for every batch (a quarter of the job's inference time on CPU). Autocast's casts of
    these bf16 weights are no-ops, so the logits are bit-identical."""

    @staticmethod
    def from_pretrained(path: str, **kwargs: Any):
        import torch

        from teacher.model import JointTeacher

        model = JointTeacher.from_pretrained(path, **kwargs)
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
        return model


def model_handler(inference: TeacherInferenceConfig, teacher_dir: str, bf16: bool = False):
    """Beam's Hugging Face handler for the joint teacher, keyed by the input row: it takes
    (row, `EncodeWords` output) pairs (`bf16`: the model runs under bf16 autocast, see
    `joint_inference`)."""
    from apache_beam.ml.inference.huggingface_inference import HuggingFaceModelHandlerKeyedTensor

    from teacher.device import inference_device
    from teacher.model import JointTeacher

    handler = HuggingFaceModelHandlerKeyedTensor(
        model_uri=teacher_dir,
        model_class=Bf16LinearTeacher if bf16 else JointTeacher,
        framework="pt",
        device=inference_device(inference.device),
        inference_fn=joint_inference,
        min_batch_size=inference.min_batch_size,
        max_batch_size=inference.max_batch_size,
    )
    return KeyedModelHandler(handler)


def bf16_inference(inference: TeacherInferenceConfig) -> bool:
    from teacher.device import inference_device, torch_device, use_bf16

    return use_bf16(
        inference.precision, torch_device(inference_device(inference.device)), "teacher.inference.precision"
    )


# What a teacher folder holds (JointTeacher.save_pretrained): its config and its weights.
TEACHER_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def check_inputs(dataset_dir: str, augmented_dir: Optional[str], teacher_dir: str) -> None:
    """Refuse missing or empty input folders before Beam starts: a `UsageError` (exit 2 on the
    command line, the execution's message in a component) naming the path and the argument."""

    def has(name: str) -> bool:
        return FileSystems.exists(FileSystems.join(teacher_dir, name))

    if not FileSystems.exists(teacher_dir):
        raise UsageError(f"teacher_dir (--teacher_dir) {teacher_dir}: no such folder")
    if not has("config.json") or not any(has(name) for name in TEACHER_WEIGHTS):
        raise UsageError(
            f"teacher_dir (--teacher_dir) {teacher_dir}: not a fine-tuned teacher folder "
            f"(needs config.json and {' or '.join(TEACHER_WEIGHTS)})"
        )
    inputs = [("dataset_dir", dataset_dir, s) for s in SPLITS] + [("augmented_dir", augmented_dir, TRAIN)]
    for arg, root, split in inputs:
        if root and not FileSystems.match([split_file_pattern(root, split)])[0].metadata_list:
            raise UsageError(f"{arg} (--{arg}) {root}: no files match {split_file_pattern(root, split)}")


class ReadRowsToLabel(beam.PTransform):
    """Every row of the dataset's splits and the augmented train rows, each with the split it
    is written to in `SPLIT_KEY`."""

    def __init__(self, dataset_dir: str, augmented_dir: Optional[str]):
        super().__init__()
        self._dataset_dir = dataset_dir
        self._augmented_dir = augmented_dir

    def expand(self, pbegin):
        inputs = {s: pbegin | f"Read{s}" >> ReadExamples(self._dataset_dir, s) for s in SPLITS}
        if self._augmented_dir:
            inputs["augmented"] = pbegin | "ReadAugmented" >> ReadExamples(self._augmented_dir, TRAIN)
        rows = [
            pcoll
            | f"Tag{name}" >> beam.Map(lambda r, s=(TRAIN if name == "augmented" else name): {**r, SPLIT_KEY: [s]})
            for name, pcoll in inputs.items()
        ]
        return rows | "AllRows" >> beam.Flatten()


class LabelWithTeacher(beam.PTransform):
    """rows -> {ROWS: soft-label rows, DEAD: dead letters}: each row encoded for the teacher,
    sorted by length, run through it (RunInference with `model_handler`), its logits put in the
    `labels` order and checked against schemas/soft_labels. A row that fails any step is a dead
    letter naming the step (encode, inference, schema)."""

    def __init__(
        self, inference: TeacherInferenceConfig, teacher_dir: str, teacher_labels: Labels, labels: Labels, bf16: bool
    ):
        super().__init__()
        self._inference = inference
        self._teacher_dir = teacher_dir
        self._teacher_labels = teacher_labels
        self._labels = labels
        self._bf16 = bf16

    def expand(self, rows):
        inference, bf16 = self._inference, self._bf16
        # Encoded before RunInference (as its preprocess fn would, with the same dead letters)
        # so that rows can be sorted by their number of sub-tokens.
        encoded, failed_encoding = (
            rows
            | "EncodeWords" >> beam.Map(EncodeWords(self._teacher_dir, inference.max_length)).with_exception_handling()
        )
        predictions, failed = (
            encoded
            | "ByLength" >> beam.ParDo(SortByLength(SORT_BATCHES * inference.max_batch_size))
            | "RunInference"
            >> RunInference(
                model_handler(inference, self._teacher_dir, bf16), inference_args={"bf16": bf16}
            ).with_exception_handling()
        )
        labelled = predictions | "ToSoftLabels" >> beam.ParDo(
            ToSoftLabelRow(self._teacher_labels, self._labels)
        ).with_outputs(DEAD, main=ROWS)
        dead = [
            failed.failed_inferences | "FailedBatches" >> beam.FlatMap(_failed_batch),
            labelled[DEAD],
            failed_encoding | "FailedEncoding" >> beam.Map(_failed_encoding),
        ]
        return {ROWS: labelled[ROWS], DEAD: dead | "AllDead" >> beam.Flatten()}


class WriteSoftLabelSplits(beam.PTransform):
    """Soft-label rows -> one `Examples` split folder each, by their `SPLIT_KEY` (not written)."""

    def __init__(self, staging: str):
        super().__init__()
        self._staging = staging

    def expand(self, rows):
        by_split = rows | "BySplit" >> beam.Partition(lambda r, n: SPLITS.index(r[SPLIT_KEY][0]), len(SPLITS))
        for split, pcoll in zip(SPLITS, by_split):
            _ = (
                pcoll
                | f"Drop{split}" >> beam.Map(lambda r: {k: v for k, v in r.items() if k != SPLIT_KEY})
                | f"Write{split}" >> WriteExamples(self._staging, split)
            )
        return rows


class CountRowsPerSplit(beam.PTransform):
    """{kind: rows} (e.g. "in" and "out") -> one record per kind and split: {"kind", "split",
    "count"}. One combine for all (every stage costs the job start-up time)."""

    def expand(self, rows_by_kind):
        keyed = [
            rows | f"Key{kind}" >> beam.Map(lambda r, kind=kind: (kind, r[SPLIT_KEY][0]))
            for kind, rows in rows_by_kind.items()
        ]
        return (
            keyed
            | "AllKeys" >> beam.Flatten()
            | "Count" >> beam.combiners.Count.PerElement()
            | "Record" >> beam.MapTuple(lambda k, n: {"kind": k[0], "split": k[1], "count": n})
        )


def teacher_labels_of(teacher_dir: str) -> Labels:
    """The teacher's own label order (its config's intent and slot labels)."""
    from teacher.model import JointTeacherConfig

    config = JointTeacherConfig.from_pretrained(teacher_dir)
    return list(config.intent_labels), list(config.slot_labels)


def summarize(
    out: StagedOutput, inference: TeacherInferenceConfig, labels: Labels, bf16: bool, started: float
) -> Dict[str, Any]:
    """summary.json from the job's count records and dead letters: rows in and out, dead
    letters by reason, rows out per split, the logits' labels, device, speed."""
    from teacher.device import inference_device

    counts: Dict[str, Counter] = {"in": Counter(), "out": Counter()}
    for record in read_jsonl(out.path("_counts", "*.jsonl")):
        counts[record["kind"]][record["split"]] += record["count"]
    dead_rows = out.dead_letters()
    summary = {
        "status": "ok",
        "rows_in": sum(counts["in"].values()),
        "rows_out": sum(counts["out"].values()),
        "dead_lettered": len(dead_rows),
        "dead_letter_reasons": dict(Counter(d["code"] for d in dead_rows)),
        "rows_out_by_split": dict(counts["out"]),
        "labels": {"intents": labels[0], "slot_tags": labels[1]},
        "device": inference_device(inference.device),
        "bf16": bf16,
        "seconds": round(time.time() - started, 1),
    }
    summary["examples_per_second"] = round(summary["rows_in"] / summary["seconds"], 1) if summary["seconds"] else None
    return summary


def publish_or_fail(summary: Dict[str, Any], out: StagedOutput, published: List[str]) -> None:
    """The failure policy: every row must come out, labelled or as a dead letter. When rows were
    lost, only the summary is published (status failed) and `JobError` raised; else the soft
    labels are moved into place and the speed printed and logged."""
    if summary["rows_in"] != summary["rows_out"] + summary["dead_lettered"]:
        summary["status"] = "failed"
        out.publish(summary, [])
        raise JobError(
            f"rows were lost between input and output: {summary['rows_in']} in, {summary['rows_out']} out, "
            f"{summary['dead_lettered']} dead-lettered"
        )
    out.publish(summary, published)
    print(
        f"teacher inference: {out.output_dir}  ({summary['seconds']} s, {summary['examples_per_second']} examples/s "
        f"on {summary['device']})"
    )
    report_progress(
        "teacher inference: rows in %d = out %d + dead-lettered %d (%.0f rows/s)",
        summary["rows_in"],
        summary["rows_out"],
        summary["dead_lettered"],
        summary["examples_per_second"] or 0,
    )


def build(
    pipeline: beam.Pipeline,
    inference: TeacherInferenceConfig,
    dataset_dir: str,
    augmented_dir: Optional[str],
    teacher_dir: str,
    output_dir: str,
    labels: Optional[Labels] = None,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Label every row of `dataset_dir` (and `augmented_dir`) with the teacher; returns the
    summary. `labels`: the label order of the logits (default: the teacher's own)."""
    check_inputs(dataset_dir, augmented_dir, teacher_dir)
    teacher_labels = teacher_labels_of(teacher_dir)
    labels = labels or teacher_labels
    label_order(teacher_labels, labels)  # fail before any work when the teacher cannot serve them
    bf16 = bf16_inference(inference)
    published = [f"{SPLIT_DIR_PREFIX}{s}" for s in SPLITS]
    out = StagedOutput(output_dir, published, overwrite)
    started = time.time()

    with pipeline as p:
        rows = p | "ReadRows" >> ReadRowsToLabel(dataset_dir, augmented_dir)
        labelled = rows | "LabelWithTeacher" >> LabelWithTeacher(inference, teacher_dir, teacher_labels, labels, bf16)
        _ = labelled[ROWS] | "WriteSplits" >> WriteSoftLabelSplits(out.staging)
        _ = labelled[DEAD] | "WriteDead" >> WriteJsonLines(out.path(DEAD_LETTER_DIR, "teacher_inference"))
        _ = (
            {"in": rows, "out": labelled[ROWS]}
            | "CountRows" >> CountRowsPerSplit()
            | "WriteCounts" >> WriteJsonLines(out.path("_counts", "rows"))
        )

    summary = summarize(out, inference, labels, bf16, started)
    publish_or_fail(summary, out, published)
    return summary


def run(
    argv: Optional[Sequence[str]] = None, save_main_session: bool = True, test_pipeline: Optional[beam.Pipeline] = None
) -> Dict[str, Any]:
    """The command line: soft labels for a dataset; exits 2 on config or usage errors."""
    parser = argparse.ArgumentParser(prog="python -m beam_jobs.teacher_inference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset_dir", required=True, help="output of beam_jobs.build_dataset")
    parser.add_argument("--augmented_dir", help="output of beam_jobs.augment (optional)")
    parser.add_argument("--teacher_dir", required=True, help="a fine-tuned teacher folder (teacher.model.JointTeacher)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite", action="store_true")
    args, beam_args = parse_job_args(parser, argv)
    config = load_job_config(args, {"teacher": TeacherConfig})
    pipeline = job_pipeline(config["beam"], beam_args, save_main_session, test_pipeline)
    return exit_on_job_error(
        lambda: build(
            pipeline,
            config["teacher"].inference,
            args.dataset_dir,
            args.augmented_dir,
            args.teacher_dir,
            args.output_dir,
            overwrite=args.overwrite,
        )
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run()
