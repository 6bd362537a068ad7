"""Beam job: mass teacher inference into soft-label TFRecords (Beam RunInference).

    python -m beam_jobs.teacher_inference --config pipeline.yaml --dataset_dir DATASET \
        [--augmented_dir AUGMENTED] --teacher_dir TEACHER --output_dir DIR [beam args]

Every original row (all splits) and every augmented row (train) goes through Beam's Hugging
Face model handler (`HuggingFaceModelHandlerKeyedTensor`, batched between
`teacher.inference.min_batch_size` and `max_batch_size`, on the GPU when there is one).
Output: DIR/Split-{train,eval,test}/data_tfrecord-*.gz with the input features plus
`teacher_intent_logits` (#intents), `teacher_slot_logits` (#tokens x #tags, row-major,
word-aligned on each word's first sub-token), `teacher_intent`, `teacher_slot_tags`,
`augmented`, `aug_method`; each row is checked against schemas/soft_labels. The teacher's
label vocabularies are written next to them (`intent_vocab.txt`, `slot_tag_vocab.txt`).
Failures (encoding, inference, schema) go to dead_letter/ with reasons;
rows in = rows out + dead-lettered.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

import schemas
from beam_jobs.dataset.examples import ReadExamples, WriteExamples
from beam_jobs.dataset.rows import SPLITS
from beam_jobs.outputs import DEAD_LETTER_DIR, StagedOutput, WriteJsonLines, dead_letter, read_jsonl, write_text
from pipeline.config import Config, add_config_arguments, load_config_or_exit


INTENT_VOCAB = "intent_vocab.txt"
SLOT_TAG_VOCAB = "slot_tag_vocab.txt"
Row = Dict[str, List[Any]]
PROGRESS_EVERY = 2000


def inference_device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "GPU" if torch.cuda.is_available() else "CPU"
    return setting


def joint_inference(batch: Sequence[Dict[str, Any]], model, device, inference_args=None, model_id=None) -> Iterable[PredictionResult]:
    """Pad the batch to its longest row (not to max_length) and run the joint teacher.

    `inference_args={"bf16": True}` autocasts to bfloat16 (see teacher.inference.precision).
    """
    import torch

    from teacher.inputs import collate

    inputs = collate(batch, pad_token_id=model.config.pad_token_id or 0)
    # Beam hands over its own device name ("CPU"/"GPU"), not a torch device.
    torch_device = torch.device("cuda" if str(device).upper() == "GPU" else "cpu")
    inputs = {k: v.to(torch_device) for k, v in inputs.items()}
    bf16 = bool((inference_args or {}).get("bf16"))
    with torch.no_grad(), torch.autocast(torch_device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(**inputs)
    intents = out.intent_logits.float().cpu().numpy()
    # A word the tokenizer gives no sub-token (e.g. a lone combining mark that an uncased
    # BERT normaliser strips) has no representation: its soft label is uniform.
    slots = (out.slot_logits * inputs["word_mask"].unsqueeze(-1)).float().cpu().numpy()
    return [
        PredictionResult(example, {"intent_logits": intents[i], "slot_logits": slots[i, : len(example["word_index"])]}, model_id)
        for i, example in enumerate(batch)
    ]


class EncodeWords:
    """Preprocess fn of the handler: row -> (row, teacher inputs); needs the teacher's tokenizer."""

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
            raise ValueError(f"{len(row['tokens'])} words need more than teacher.inference.max_length={self._max_length} sub-tokens")
        return row, inputs


class SchemaCheck:
    """Presence and value counts of schemas/soft_labels, checked per row."""

    def __init__(self, schema_path: str):
        import tensorflow_data_validation as tfdv

        self._rules = []
        for feature in tfdv.load_schema_text(schema_path).feature:
            required = feature.presence.min_fraction >= 1.0
            vc = feature.value_count
            self._rules.append((feature.name, required, vc.min if vc.HasField("min") else 0, vc.max if vc.HasField("max") else 0))

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


class ToSoftLabelRow(beam.DoFn):
    """(row, prediction) -> the output example, or a dead letter when it breaks the schema."""

    def __init__(self, intents: List[str], tags: List[str]):
        self._intents = intents
        self._tags = tags
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
            print(f"teacher inference: {self._done} rows labelled by this worker ({rate:.0f} rows/s)", flush=True)
        intent_logits, slot_logits = result.inference["intent_logits"], result.inference["slot_logits"]
        out: Dict[str, Any] = {k: v for k, v in row.items() if k not in ("augmented", "aug_method")}
        out["teacher_intent_logits"] = [float(x) for x in intent_logits]
        out["teacher_slot_logits"] = [float(x) for x in slot_logits.reshape(-1)]
        out["teacher_intent"] = self._intents[int(intent_logits.argmax())]
        out["teacher_slot_tags"] = [self._tags[int(i)] for i in slot_logits.argmax(-1)]
        out["augmented"] = int(row.get("augmented", [0])[0])
        out["aug_method"] = row.get("aug_method", [""])[0]
        problems = self._check.problems(out)
        if problems:
            yield beam.pvalue.TaggedOutput("dead", dead_letter("schema", "schema_violation", "; ".join(problems), row["id"][0], _plain(row)))
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


def parse_args(argv: Optional[Sequence[str]]) -> Tuple[argparse.Namespace, List[str]]:
    parser = argparse.ArgumentParser(prog="python -m beam_jobs.teacher_inference", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--dataset_dir", required=True, help="output of beam_jobs.build_dataset")
    parser.add_argument("--augmented_dir", help="output of beam_jobs.augment (optional)")
    parser.add_argument("--teacher_dir", required=True, help="a fine-tuned teacher folder (teacher.model.JointTeacher)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite", action="store_true")
    return parser.parse_known_args(argv)


def model_handler(config: Config, teacher_dir: str):
    from apache_beam.ml.inference.huggingface_inference import HuggingFaceModelHandlerKeyedTensor

    from teacher.model import JointTeacher

    inference = config.teacher.inference
    handler = HuggingFaceModelHandlerKeyedTensor(
        model_uri=teacher_dir,
        model_class=JointTeacher,
        framework="pt",
        device=inference_device(inference.device),
        inference_fn=joint_inference,
        min_batch_size=inference.min_batch_size,
        max_batch_size=inference.max_batch_size,
    )
    return KeyedModelHandler(handler).with_preprocess_fn(EncodeWords(teacher_dir, inference.max_length))


def bf16_inference(config: Config) -> bool:
    import torch

    from teacher.finetune import use_bf16

    device = torch.device("cuda" if inference_device(config.teacher.inference.device) == "GPU" else "cpu")
    return use_bf16(config.teacher.inference.precision, device)


def run(argv: Optional[Sequence[str]] = None, test_pipeline: Optional[beam.Pipeline] = None) -> Dict[str, Any]:
    """Label every row with the teacher; returns the summary."""
    from teacher.model import JointTeacherConfig

    args, beam_args = parse_args(argv)
    config = load_config_or_exit(args.config, args.overrides)
    teacher_config = JointTeacherConfig.from_pretrained(args.teacher_dir)
    intents, tags = list(teacher_config.intent_labels), list(teacher_config.slot_labels)
    published = [f"Split-{s}" for s in SPLITS] + [INTENT_VOCAB, SLOT_TAG_VOCAB]
    out = StagedOutput(args.output_dir, published, args.overwrite)
    started = time.time()

    pipeline = test_pipeline or beam.Pipeline(options=PipelineOptions(config.beam_args() + beam_args))
    with pipeline as p:
        inputs = {s: p | f"Read{s}" >> ReadExamples(args.dataset_dir, s) for s in SPLITS}
        if args.augmented_dir:
            inputs["augmented"] = p | "ReadAugmented" >> ReadExamples(args.augmented_dir, "train")
        rows = [
            pcoll | f"Tag{name}" >> beam.Map(lambda r, s=("train" if name == "augmented" else name): {**r, "_split": [s]})
            for name, pcoll in inputs.items()
        ]
        all_rows = rows | "AllRows" >> beam.Flatten()
        predictions, failed = all_rows | "RunInference" >> RunInference(
            model_handler(config, args.teacher_dir), inference_args={"bf16": bf16_inference(config)}
        ).with_exception_handling()
        labelled = predictions | "ToSoftLabels" >> beam.ParDo(ToSoftLabelRow(intents, tags)).with_outputs("dead", main="rows")
        by_split = labelled["rows"] | "BySplit" >> beam.Partition(lambda r, n: SPLITS.index(r["_split"][0]), len(SPLITS))
        for split, pcoll in zip(SPLITS, by_split):
            _ = (
                pcoll
                | f"Drop{split}" >> beam.Map(lambda r: {k: v for k, v in r.items() if k != "_split"})
                | f"Write{split}" >> WriteExamples(out.staging, split)
            )
        dead = [
            failed.failed_inferences | "FailedBatches" >> beam.FlatMap(_failed_batch),
            labelled["dead"],
        ] + [pc | f"FailedEncoding{i}" >> beam.Map(_failed_encoding) for i, pc in enumerate(failed.failed_preprocessing)]
        _ = dead | "AllDead" >> beam.Flatten() | "WriteDead" >> WriteJsonLines(out.path(DEAD_LETTER_DIR, "teacher_inference"))
        for name, pcoll in (("in", all_rows), ("out", labelled["rows"])):
            _ = (
                pcoll
                | f"Key{name}" >> beam.Map(lambda r, name=name: (name, r["_split"][0]))
                | f"Count{name}" >> beam.combiners.Count.PerElement()
                | f"Record{name}" >> beam.MapTuple(lambda k, n: {"kind": k[0], "split": k[1], "count": n})
                | f"Write{name}" >> WriteJsonLines(out.path("_counts", name))
            )

    write_text(out.path(INTENT_VOCAB), "".join(f"{v}\n" for v in intents))
    write_text(out.path(SLOT_TAG_VOCAB), "".join(f"{v}\n" for v in tags))
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
        "device": inference_device(config.teacher.inference.device),
        "bf16": bf16_inference(config),
        "seconds": round(time.time() - started, 1),
    }
    summary["examples_per_second"] = round(summary["rows_in"] / summary["seconds"], 1) if summary["seconds"] else None
    out.publish(summary, published)
    print(f"teacher inference: {out.output_dir}  ({summary['seconds']} s, {summary['examples_per_second']} examples/s on {summary['device']})")
    print(f"rows in {summary['rows_in']} = out {summary['rows_out']} + dead-lettered {summary['dead_lettered']}")
    if summary["rows_in"] != summary["rows_out"] + summary["dead_lettered"]:
        print("error: rows were lost between input and output", file=sys.stderr)
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run()
