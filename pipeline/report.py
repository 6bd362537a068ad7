"""`python -m pipeline report`: one self-contained HTML file (charts embedded) and a JSON summary
that review a pipeline run, for a reviewer deciding "do we ship this student?".

Everything is found through MLMD: the run is a `pipeline_run` context; its executions and
artifacts (ids, URIs, times) give the lineage, the stage timings and the folders to read.
Metrics and the verdict come from TFMA (`load_eval_result`, `load_validation_result`) and the
Evaluator's `ModelBlessing`. What TFMA cannot hold (the metric's keys are fixed when the eval
config is written, but intents and slot types depend on the data) is recomputed by running
the evaluated model on the Evaluator's own examples: the intent confusion matrix and slot F1
per slot type. Those recomputed overall scores are checked against TFMA's.

    python -m pipeline report [--config pipeline.yaml] [--pipeline-root DIR] [--run latest|ID]
                              [--output report.html] [--baseline RUN_ID]

Exit status: 0 report written; 1 report written but the run has no evaluation (it failed or
is still running); 2 nothing to report (no store, no run, unknown run id).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import io
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import Config

SPLITS_ORDER = ("train", "eval", "test")
METRIC_COLUMNS = ("exact_match", "intent_accuracy", "slot_f1")
FIRST_DEAD_LETTERS = 3
TOP_CONFUSIONS = 10
EXAMPLE_BATCH = 256


class ReportError(Exception):
    """Nothing to report (no store, no run, unknown run): the message says why."""


# --------------------------------------------------------------------------- MLMD


@dataclass
class Artifact:
    id: int
    type: str
    uri: str
    created_ms: int
    properties: Dict[str, Any]
    producer: str = ""


@dataclass
class Execution:
    id: int
    component: str
    state: str
    started_ms: int
    finished_ms: int
    properties: Dict[str, Any]
    inputs: Dict[str, List[int]] = field(default_factory=dict)
    outputs: Dict[str, List[int]] = field(default_factory=dict)


@dataclass
class Run:
    """One `pipeline_run` context with its executions (in start order) and artifacts."""

    id: str
    context_id: int
    pipeline: str
    created_ms: int
    metadata_path: str
    executions: List[Execution]
    artifacts: Dict[int, Artifact]
    not_reached: List[str]

    def execution(self, component: str) -> Optional[Execution]:
        found = [e for e in self.executions if e.component == component]
        return found[-1] if found else None

    def artifact(self, component: str, key: str, direction: str = "outputs") -> Optional[Artifact]:
        """The artifact a component's execution in this run read (`inputs`) or wrote under `key`."""
        execution = self.execution(component)
        ids = getattr(execution, direction).get(key, []) if execution else []
        return self.artifacts.get(ids[-1]) if ids else None


def _value(value: metadata_store_pb2.Value) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("int_value", "double_value", "string_value", "bool_value") else str(value)


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    """The sqlite MLMD store, read-only (a report never changes what it reports on)."""
    if not os.path.isfile(metadata_path):
        raise ReportError(f"no pipeline run: there is no metadata store at {metadata_path} (run `python -m pipeline run` first)")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return mlmd.MetadataStore(config)
    except Exception as exc:  # noqa: BLE001 - MLMD raises its own error types for unreadable stores
        raise ReportError(f"{metadata_path} is not a readable MLMD store: {str(exc)[:160]}") from None


def list_runs(store: mlmd.MetadataStore, pipeline_name: str) -> List[metadata_store_pb2.Context]:
    """The pipeline's runs, oldest first."""
    runs = []
    for run in store.get_contexts_by_type("pipeline_run"):
        parents = store.get_parent_contexts_by_context(run.id)
        if any(p.type == "pipeline" and p.name == pipeline_name for p in parents):
            runs.append(run)
    return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def load_run(store: mlmd.MetadataStore, metadata_path: str, pipeline_name: str, run: str = "latest") -> Run:
    """Read run `run` ("latest", a run id such as 2026-11-24T01:40:57.052301, or its context id)."""
    runs = list_runs(store, pipeline_name)
    if not runs:
        others = sorted({c.name for c in store.get_contexts_by_type("pipeline")} - {pipeline_name})
        hint = f"; it holds runs of {', '.join(others)} (set project.name)" if others else ""
        raise ReportError(f"no pipeline run of '{pipeline_name}' in {metadata_path}{hint}")
    if run == "latest":
        context = runs[-1]
    else:
        matches = [c for c in runs if c.name == run or str(c.id) == run]
        if not matches:
            recent = ", ".join(c.name for c in runs[-5:])
            raise ReportError(f"no run '{run}' of '{pipeline_name}' in {metadata_path}; latest runs: {recent}")
        context = matches[0]

    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    artifacts = {
        a.id: Artifact(a.id, artifact_types[a.type_id], a.uri, a.create_time_since_epoch,
                       {k: _value(v) for k, v in a.custom_properties.items()})
        for a in store.get_artifacts_by_context(context.id)
    }
    prefix = pipeline_name + "."
    executions = []
    for e in store.get_executions_by_context(context.id):
        nodes = [c.name for c in store.get_contexts_by_execution(e.id) if c.type == "node"]
        executions.append(Execution(
            id=e.id,
            component=nodes[0][len(prefix):] if nodes else str(e.type),
            state=metadata_store_pb2.Execution.State.Name(e.last_known_state),
            started_ms=e.create_time_since_epoch,
            finished_ms=e.last_update_time_since_epoch,
            properties={k: _value(v) for k, v in e.custom_properties.items()},
        ))
    executions.sort(key=lambda e: (e.started_ms, e.id))
    by_id = {e.id: e for e in executions}
    for event in store.get_events_by_execution_ids(list(by_id)):
        key = event.path.steps[0].key if event.path.steps else ""
        execution = by_id[event.execution_id]
        if event.type in (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT):
            execution.inputs.setdefault(key, []).append(event.artifact_id)
        elif event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT):
            execution.outputs.setdefault(key, []).append(event.artifact_id)
            if event.artifact_id in artifacts:
                artifacts[event.artifact_id].producer = execution.component
    ran = {e.component for e in executions}
    # Node contexts appear when a node first runs: those of earlier runs that this run never reached.
    pipeline_nodes = [c.name[len(prefix):] for c in store.get_contexts_by_type("node") if c.name.startswith(prefix)]
    return Run(context.name, context.id, pipeline_name, context.create_time_since_epoch, metadata_path, executions,
               artifacts, [n for n in pipeline_nodes if n not in ran])


# --------------------------------------------------------------------------- reading artifacts


def _utc(ms: float) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _first_jsonl(pattern: str, n: int) -> List[Dict[str, Any]]:
    """The first `n` records of some JSON-lines files (read lazily: dead-letter files can be big)."""
    import tensorflow as tf

    out: List[Dict[str, Any]] = []
    for path in sorted(tf.io.gfile.glob(pattern)):
        with tf.io.gfile.GFile(path) as f:
            for line in f:
                if len(out) == n:
                    return out
                if line.strip():
                    out.append(json.loads(line))
    return out


def _slice_name(slice_key: Tuple) -> str:
    if not slice_key:
        return "overall"
    return ", ".join(f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in slice_key)


def _gates(eval_config) -> Tuple[Optional[float], Optional[float]]:
    """(overall threshold, per-language floor) on the headline metric, read from the eval config
    the Evaluator ran with (both the per-slice form and TFX's older all-slices form)."""
    from pipeline.model.fraction_of_teacher import HEADLINE

    threshold = floor = None
    for spec in eval_config.metrics_specs:
        if HEADLINE in spec.thresholds:
            threshold = spec.thresholds[HEADLINE].value_threshold.lower_bound.value
        for per_slice in spec.per_slice_thresholds[HEADLINE].thresholds if HEADLINE in spec.per_slice_thresholds else []:
            bound = per_slice.threshold.value_threshold.lower_bound.value
            for slicing in per_slice.slicing_specs:
                if not slicing.feature_keys:
                    threshold = bound
                elif list(slicing.feature_keys) == ["lang"]:
                    floor = bound
    return threshold, floor


def evaluation(run: Run) -> Optional[Dict[str, Any]]:
    """Verdict and TFMA metrics by slice, or None when the run has no evaluation."""
    import tensorflow_model_analysis as tfma

    from pipeline.local_runner import _metric_values
    from pipeline.model.fraction_of_teacher import HEADLINE

    evaluation_artifact = run.artifact("Evaluator", "evaluation")
    if evaluation_artifact is None:
        return None
    result = tfma.load_eval_result(evaluation_artifact.uri)
    overall: Dict[str, float] = {}
    per_language: Dict[str, Dict[str, float]] = {}
    per_intent: Dict[str, Dict[str, float]] = {}
    for slice_key, metrics in result.slicing_metrics:
        values = _metric_values(metrics)
        if not slice_key:
            overall = values
        elif len(slice_key) == 1:
            column, value = slice_key[0]
            value = value.decode() if isinstance(value, bytes) else str(value)
            {"lang": per_language, "intent": per_intent}.get(column, {})[value] = values
    threshold, floor = _gates(result.config)
    validation = tfma.load_validation_result(evaluation_artifact.uri)
    failed = []
    for per_slice in validation.metric_validations_per_slice:
        key = tuple((k.column, k.bytes_value or k.float_value or k.int64_value) for k in per_slice.slice_key.single_slice_keys)
        for failure in per_slice.failures:
            failed.append({
                "slice": _slice_name(key),
                "metric": failure.metric_key.name,
                "value": failure.metric_value.double_value.value if failure.metric_value.HasField("double_value") else None,
                "bound": failure.metric_threshold.value_threshold.lower_bound.value,
                "message": failure.message,
            })
    # The floor a reviewer holds every language (and, informatively, every intent) to: the
    # configured per-language floor, else the overall gate.
    floor_used = floor if floor is not None else threshold
    below, undefined = [], []
    for column, slices in (("lang", per_language), ("intent", per_intent)):
        for name, values in sorted(slices.items()):
            value = values.get(HEADLINE, math.nan)
            # Undefined: the teacher got no row of the slice exactly right (nothing to be a fraction of).
            if math.isnan(value):
                undefined.append(f"{column}={name}")
            elif floor_used is not None and value < floor_used:
                below.append({"slice": f"{column}={name}", "value": value, "examples": values.get("eval_examples", 0),
                              "gated": column == "lang" and floor is not None})
    blessing = run.artifact("Evaluator", "blessing")
    pushed = run.artifact("AtomicPusher", "pushed_model")
    return {
        "uri": evaluation_artifact.uri,
        "verdict": {
            "blessed": bool(blessing is not None and blessing.properties.get("blessed") == 1),
            "validation_ok": bool(validation.validation_ok),
            "headline": HEADLINE,
            "overall_value": overall.get(HEADLINE, math.nan),
            "threshold": threshold,
            "per_language_floor": floor,
            "floor_used": floor_used,
            "failed_checks": failed,
            "below_floor": below,
            "undefined_slices": undefined,
            "pushed_to": pushed.properties.get("pushed_destination") if pushed and pushed.properties.get("pushed") == 1 else None,
        },
        "metrics": {"overall": overall, "per_language": per_language, "per_intent": per_intent},
    }


def _examples(uri: str, split: str) -> List[bytes]:
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(os.path.join(uri, f"Split-{split}", "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _span_counts() -> Dict[str, int]:
    return {"tp": 0, "fp": 0, "fn": 0}


def _prf(c: Dict[str, int]) -> Dict[str, float]:
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else math.nan
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else math.nan
    f1 = 2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]) if c["tp"] + c["fp"] + c["fn"] else math.nan
    return {**c, "precision": precision, "recall": recall, "f1": f1}


def _eval_split(evaluator: Optional[Execution]) -> str:
    """The split the Evaluator scored (its `example_splits` execution property)."""
    splits = json.loads(evaluator.properties.get("example_splits") or "null") if evaluator else None
    return splits[0] if splits else "eval"


def predictions(run: Run, overall_tfma: Dict[str, float]) -> Optional[Dict[str, Any]]:
    """Intent confusion and slot F1 per slot type of student and teacher on the Evaluator's
    examples, by running the evaluated model as the Evaluator did (`serve_examples`)."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from beam_jobs.dataset.examples import decode
    from pipeline.model import fraction_of_teacher as fot

    examples, model = run.artifact("Evaluator", "examples", "inputs"), run.artifact("Evaluator", "model", "inputs")
    evaluator = run.execution("Evaluator")
    if examples is None or model is None or evaluator is None:
        return None
    split = _eval_split(evaluator)
    serve = tf.saved_model.load(path_utils.serving_model_path(model.uri)).signatures["serve_examples"]
    records = _examples(examples.uri, split)
    # The TFMA metric's own accumulator, so the recomputation scores rows exactly as TFMA did.
    counts = fot._Counts()
    confusion: Dict[str, Dict[Tuple[str, str], int]] = {"student": {}, "teacher": {}}
    slots: Dict[str, Dict[str, Dict[str, int]]] = {"student": {}, "teacher": {}}
    support: Dict[str, int] = {}
    for start in range(0, len(records), EXAMPLE_BATCH):
        batch = records[start : start + EXAMPLE_BATCH]
        out = serve(examples=tf.constant(batch))
        intents = [v.decode() for v in out["intent"].numpy()]
        tag_rows = [[t.decode() for t in row if t] for row in out["slot_tags"].numpy()]
        for record, intent, tags in zip(batch, intents, tag_rows):
            row = decode(record)
            if not row.get("intent"):
                continue
            gold, gold_tags = row["intent"][0], row.get("slot_tags", [])
            counts.examples += 1
            for who, pred, pred_tags in (("student", intent, tags),
                                         ("teacher", row["teacher_intent"][0], row.get("teacher_slot_tags", []))):
                counts.add(who, gold, gold_tags, pred, pred_tags)
                confusion[who][(gold, pred)] = confusion[who].get((gold, pred), 0) + 1
                aligned = (list(pred_tags) + ["O"] * len(gold_tags))[: len(gold_tags)]
                gold_spans, pred_spans = fot.bio_spans(gold_tags), fot.bio_spans(aligned)
                for kind, spans in (("tp", gold_spans & pred_spans), ("fp", pred_spans - gold_spans), ("fn", gold_spans - pred_spans)):
                    for _, _, slot in spans:
                        slots[who].setdefault(slot, _span_counts())[kind] += 1
                if who == "student":
                    for _, _, slot in gold_spans:
                        support[slot] = support.get(slot, 0) + 1
    scores = fot.scores(counts)
    compared = [k for k in scores if not math.isnan(scores[k]) and k in overall_tfma]
    labels = sorted({g for who in confusion.values() for g, _ in who} | {p for who in confusion.values() for _, p in who})
    index = {label: i for i, label in enumerate(labels)}
    matrices = {}
    for who, cells in confusion.items():
        matrix = [[0] * len(labels) for _ in labels]
        for (gold, pred), n in cells.items():
            matrix[index[gold]][index[pred]] = n
        matrices[who] = matrix
    top = sorted(((n, g, p) for (g, p), n in confusion["student"].items() if g != p), reverse=True)[:TOP_CONFUSIONS]
    slot_names = sorted(set(slots["student"]) | set(slots["teacher"]))
    return {
        "split": split,
        "eval_examples": counts.examples,
        "scores": scores,
        "matches_tfma": all(math.isclose(scores[k], overall_tfma[k], rel_tol=1e-6, abs_tol=1e-9) for k in compared),
        "labels": labels,
        "confusion": matrices,
        "top_confusions": [{"gold": g, "predicted": p, "student": n, "teacher": confusion["teacher"].get((g, p), 0)}
                           for n, g, p in top],
        "slot_f1": {name: {"support": support.get(name, 0),
                           "student": _prf(slots["student"].get(name, _span_counts())),
                           "teacher": _prf(slots["teacher"].get(name, _span_counts()))} for name in slot_names},
    }


def eval_queries(run: Run, n: int = 512) -> Tuple[List[str], List[List[str]]]:
    """Texts (for the student) and word lists (for the teacher) of the first `n` examples the
    Evaluator scored: the queries the latency figures are measured on."""
    from beam_jobs.dataset.examples import decode

    examples, evaluator = run.artifact("Evaluator", "examples", "inputs"), run.execution("Evaluator")
    if examples is None or evaluator is None:
        examples = run.artifact("TeacherInference", "soft_label_examples")
    if examples is None:
        return [], []
    rows = [decode(r) for r in _examples(examples.uri, _eval_split(evaluator))[:n]]
    return [r["text"][0] for r in rows if r.get("text")], [r["tokens"] for r in rows if r.get("tokens")]


def _timed(fn: Callable[[int], object], n: int) -> Dict[str, float]:
    """Milliseconds per call of fn(i), i = 0..n-1, after two warm-up calls (tracing, allocation)."""
    import numpy as np

    fn(0)
    fn(1)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90))}


def machine() -> str:
    """The machine the latencies were measured on, in words."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    # The load tells whether other work shared the cores while latencies were measured.
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.node() or 'this machine'}: {os.cpu_count()} CPU cores ({cpu}), {len(gpus)} GPU(s), {platform.system()}{load}"


def size_and_speed(run: Run, teacher_max_length: int, texts: Sequence[str], token_lists: Sequence[Sequence[str]],
                   queries: int, teacher: bool = True) -> Dict[str, Any]:
    """Parameters, bytes and single-query latency of the student (SavedModel on raw text; int8
    TFLite encoder + projection) and of the teacher (tokenise + forward), on this machine."""
    import numpy as np
    import tensorflow as tf
    from tfx.utils import path_utils

    from pipeline.local_runner import weight_bytes
    from pipeline.model.train import TFLITE_FILE
    from pqrnn.export import pad_features, saved_model_bytes

    model = run.artifact("Trainer", "model")
    serving = path_utils.serving_model_path(model.uri)
    loaded = tf.saved_model.load(serving)
    params = int(sum(np.prod(v.shape) for v in loaded.model.trainable_variables))
    serve, project = loaded.signatures["serving_default"], loaded.signatures["project_text"]
    texts = list(texts) or ["turn on the light"]
    student = {"name": "student (fp32 SavedModel, raw text in)", "params": params, "fp32_bytes": params * 4,
               "saved_model_bytes": saved_model_bytes(serving), "int8_bytes": None}
    student.update(_timed(lambda i: serve(text=tf.constant([texts[i % len(texts)]])), queries))
    rows = [student]
    tflite_path = os.path.join(serving, "assets.extra", TFLITE_FILE)
    if tf.io.gfile.exists(tflite_path):
        with tf.io.gfile.GFile(tflite_path, "rb") as f:
            flatbuffer = f.read()
        runner = tf.lite.Interpreter(model_content=flatbuffer).get_signature_runner()
        student_config = _read_json(os.path.join(serving, "assets.extra", "student_config.json")) or {}
        markers = 2 if student_config.get("projection", {}).get("add_bos_eos", True) else 0

        fixed_length = int(runner.get_input_details()["features"]["shape_signature"][1])

        def lite(i: int) -> object:
            # What a device runs: the projection, then the int8 encoder on this query's length
            # (or padded to the encoder's fixed length, for encoders exported with one).
            projected = project(text=tf.constant([texts[i % len(texts)]]))
            length = fixed_length if fixed_length > 0 else int(projected["num_tokens"][0]) + markers
            return runner(features=pad_features(projected["features"].numpy(), length))

        int8 = {"name": "student (int8 TFLite + projection)", "params": params, "fp32_bytes": params * 4,
                "int8_bytes": len(flatbuffer)}
        int8.update(_timed(lite, queries))
        rows.append(int8)
        student["int8_bytes"] = len(flatbuffer)
    result: Dict[str, Any] = {"machine": machine(), "queries": queries, "rows": rows, "student_params": params,
                              "student_int8_bytes": student["int8_bytes"], "student_p50_ms": student["p50_ms"],
                              "size_ratio": math.nan, "params_ratio": math.nan, "latency_ratio": math.nan}
    teacher_artifact = run.artifact("TeacherInference", "teacher", "inputs")
    if teacher and teacher_artifact is not None:
        import torch

        from teacher.inputs import collate, encode_words
        from teacher.model import load_teacher

        teacher_model, tokenizer = load_teacher(teacher_artifact.uri)
        token_lists = [list(t) for t in token_lists if t] or [["turn", "on", "the", "light"]]

        def teacher_query(i: int) -> object:
            with torch.no_grad():
                batch = collate([encode_words(token_lists[i % len(token_lists)], tokenizer, teacher_max_length)], tokenizer.pad_token_id)
                return teacher_model(**batch)

        teacher_params = int(sum(p.numel() for p in teacher_model.parameters()))
        row = {"name": "teacher (fp32 PyTorch, words in)", "params": teacher_params, "fp32_bytes": weight_bytes(teacher_artifact.uri),
               # No int8 teacher is built: one byte per parameter is what one would weigh.
               "int8_bytes": teacher_params, "int8_estimated": True, "uri": teacher_artifact.uri}
        row.update(_timed(teacher_query, queries))
        rows.append(row)
        student_size = student["int8_bytes"] or student["fp32_bytes"]
        result.update(
            size_ratio=row["fp32_bytes"] / student_size if student_size else math.nan,
            params_ratio=teacher_params / params if params else math.nan,
            latency_ratio=row["p50_ms"] / student["p50_ms"] if student["p50_ms"] else math.nan,
        )
    return result


def _events(path: str) -> Iterator[Any]:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    for record in tf.data.TFRecordDataset([path]):
        yield event_pb2.Event.FromString(record.numpy())


def training_curves(run: Run) -> Optional[Dict[str, Any]]:
    """Per-epoch scalars of the Trainer's TensorBoard logs (train and validation), and the
    training throughput: train rows x epochs over the time from the first to the last event."""
    import tensorflow as tf

    model_run = run.artifact("Trainer", "model_run")
    if model_run is None:
        return None
    series: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
    span: List[float] = []
    for subdir in ("train", "validation"):
        for path in sorted(tf.io.gfile.glob(os.path.join(model_run.uri, subdir, "events.out.tfevents.*"))):
            for event in _events(path):
                if subdir == "train":
                    span.append(event.wall_time)
                for value in event.summary.value:
                    if not value.tag.startswith("epoch_"):
                        continue
                    number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                    series.setdefault(value.tag[len("epoch_"):], {}).setdefault(subdir, []).append((int(event.step), number))
    if not series:
        return None
    epochs = max(len(points) for by_split in series.values() for points in by_split.values())
    soft_labels = run.artifact("Trainer", "examples", "inputs")
    summary = _read_json(os.path.join(soft_labels.uri, "summary.json")) if soft_labels else None
    train_rows = (summary or {}).get("rows_out_by_split", {}).get("train")
    seconds = max(span) - min(span) if len(span) > 1 else None
    return {
        "log_dir": model_run.uri,
        "series": {name: {k: sorted(v) for k, v in by_split.items()} for name, by_split in sorted(series.items())},
        "epochs": epochs,
        "train_rows": train_rows,
        "seconds": seconds,
        "examples_per_second": train_rows * epochs / seconds if train_rows and seconds else None,
    }


def data_counts(run: Run) -> Dict[str, Any]:
    """Examples per split x language, augmentation by method, soft labels per split."""
    out: Dict[str, Any] = {"counts": {}, "languages": [], "augmentation": None, "soft_labels": None}
    dataset = run.artifact("DatasetGen", "examples")
    summary = _read_json(os.path.join(dataset.uri, "summary.json")) if dataset else None
    if summary:
        counts = summary.get("counts", {})
        out["counts"] = {split: {lang: sum(intents.values()) for lang, intents in sorted(counts[split].items())}
                         for split in SPLITS_ORDER if split in counts}
        out["languages"] = sorted({lang for langs in out["counts"].values() for lang in langs})
    augmented = run.artifact("Augment", "augmented_examples")
    summary = _read_json(os.path.join(augmented.uri, "summary.json")) if augmented else None
    if summary:
        by_method = summary.get("by_method", {})
        outcomes = sorted({o for m in by_method.values() for o in m}, key=lambda o: (o != "emitted", o))
        out["augmentation"] = {"emitted": summary.get("emitted", 0), "train_rows": summary.get("train_rows", 0),
                               "by_method": by_method, "outcomes": outcomes}
    soft = run.artifact("TeacherInference", "soft_label_examples")
    summary = _read_json(os.path.join(soft.uri, "summary.json")) if soft else None
    if summary:
        out["soft_labels"] = {s: summary["rows_out_by_split"][s] for s in SPLITS_ORDER if s in summary.get("rows_out_by_split", {})}
    return out


def dead_letters(run: Run) -> Dict[str, Dict[str, Any]]:
    """Per stage whose output holds a job summary: rows in, dead-lettered, counts by code, first rows."""
    out: Dict[str, Dict[str, Any]] = {}
    for execution in run.executions:
        for ids in execution.outputs.values():
            for artifact_id in ids:
                uri = run.artifacts[artifact_id].uri if artifact_id in run.artifacts else None
                summary = _read_json(os.path.join(uri, "summary.json")) if uri else None
                if summary is None or "dead_lettered" not in summary:
                    continue
                first = _first_jsonl(os.path.join(uri, "dead_letter", "*.jsonl"), FIRST_DEAD_LETTERS)
                out[execution.component] = {
                    "rows_in": summary.get("rows_in", summary.get("train_rows")),
                    "count": summary["dead_lettered"],
                    "by_code": summary.get("dead_letter_reasons", {}),
                    "first": [{"code": d.get("code"), "reason": d.get("reason"), "row": str(d.get("row"))[:160]} for d in first],
                }
    return out


def run_config(run: Run) -> Optional[Dict[str, Any]]:
    """The config the run's stages were given: each carries the sections it reads (`config_json`,
    the Trainer's `custom_config`; see `pipeline.pipeline.CONFIG_SECTIONS`), merged here."""
    def merge(into: Dict[str, Any], part: Dict[str, Any]) -> None:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merged: Dict[str, Any] = {}
    for execution in run.executions:
        for key in ("config_json", "custom_config"):
            text = execution.properties.get(key)
            if isinstance(text, str) and text.startswith("{"):
                merge(merged, json.loads(text))
    return merged or None


def lineage(run: Run) -> Dict[str, Any]:
    executions = [{
        "id": e.id, "component": e.component, "state": e.state, "started": _utc(e.started_ms), "finished": _utc(e.finished_ms),
        "started_ms": e.started_ms, "seconds": (e.finished_ms - e.started_ms) / 1000, "inputs": e.inputs, "outputs": e.outputs,
    } for e in run.executions]
    artifacts = [{"id": a.id, "type": a.type, "producer": a.producer, "uri": a.uri, "created": _utc(a.created_ms)}
                 for a in sorted(run.artifacts.values(), key=lambda a: a.id)]
    total = (max(e.finished_ms for e in run.executions) - min(e.started_ms for e in run.executions)) / 1000 if run.executions else 0.0
    return {"executions": executions, "artifacts": artifacts, "not_reached": run.not_reached, "wall_seconds": total}


def _status(run: Run, evaluated: bool) -> Tuple[str, Optional[str]]:
    """("complete" | "failed" | "running", a message for the reviewer or None)."""
    failed = [e.component for e in run.executions if e.state == "FAILED"]
    running = [e.component for e in run.executions if e.state in ("NEW", "RUNNING")]
    ran = ", ".join(f"{e.component} ({e.state})" for e in run.executions) or "none"
    status = "failed" if failed else "running" if running else "complete"
    if evaluated:
        return status, (f"Stages after the evaluation failed: {', '.join(failed)}." if failed else None)
    if failed:
        # MLMD keeps an execution's state, not its error: the message is in the run's own output.
        return status, (f"Run {run.id} failed at {', '.join(failed)} before evaluation (its error is in the run's output). "
                        f"Stages that ran: {ran}.")
    if running:
        return status, f"Run {run.id} is still running ({', '.join(running)}); it has not reached evaluation. Stages so far: {ran}."
    return status, f"Run {run.id} has no evaluation (its Evaluator never ran). Stages that ran: {ran}."


def collect(run: Run, config: Config, latency_queries: int = 100, measure_teacher: bool = True) -> Dict[str, Any]:
    """Everything the report shows, as plain JSON-able data (NaN where undefined)."""
    evaluated = evaluation(run)
    status, message = _status(run, evaluated is not None)
    report: Dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "run": {"id": run.id, "context_id": run.context_id, "pipeline": run.pipeline, "started": _utc(run.created_ms),
                "status": status, "metadata": run.metadata_path},
        "evaluated": evaluated is not None,
        "message": message,
        "verdict": evaluated["verdict"] if evaluated else None,
        "metrics": evaluated["metrics"] if evaluated else None,
        "evaluation_uri": evaluated["uri"] if evaluated else None,
        "predictions": None,
        "size_speed": None,
        "size_speed_missing": "the run has no trained student",
        "data": data_counts(run),
        "dead_letters": dead_letters(run),
        "training": training_curves(run),
        "lineage": lineage(run),
        "config": run_config(run),
        "comparison": None,
    }
    if evaluated:
        report["predictions"] = predictions(run, evaluated["metrics"]["overall"])
    if run.artifact("Trainer", "model") is not None and latency_queries > 0:
        texts, token_lists = eval_queries(run)
        # The teacher is timed as the run's teacher inference ran it (its own max_length).
        used = report["config"] or config.to_dict()
        max_length = used.get("teacher", {}).get("inference", {}).get("max_length", config.teacher.inference.max_length)
        report["size_speed"] = size_and_speed(run, max_length, texts, token_lists, latency_queries, measure_teacher)
    elif latency_queries <= 0:
        report["size_speed_missing"] = "latency measurement switched off (--latency-queries 0)"
    return report


# --------------------------------------------------------------------------- comparison


def _flatten(value: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _delta(current: Optional[float], baseline: Optional[float]) -> Dict[str, Optional[float]]:
    missing = current is None or baseline is None or math.isnan(current) or math.isnan(baseline)
    return {"baseline": baseline, "current": current, "delta": None if missing else current - baseline}


def compare(current: Dict[str, Any], baseline: Dict[str, Any]) -> Dict[str, Any]:
    """Metric deltas (this run - baseline): overall, per language, student size/speed; config changes."""
    from pipeline.model.fraction_of_teacher import HEADLINE

    cur_m, base_m = current.get("metrics") or {}, baseline.get("metrics") or {}
    cur_overall, base_overall = cur_m.get("overall", {}), base_m.get("overall", {})
    overall = {k: _delta(cur_overall.get(k), base_overall.get(k)) for k in sorted(set(cur_overall) | set(base_overall))}
    language_metrics = [HEADLINE, "student_exact_match", "student_intent_accuracy", "student_slot_f1"]
    cur_lang, base_lang = cur_m.get("per_language", {}), base_m.get("per_language", {})
    per_language = {
        lang: {k: _delta(cur_lang.get(lang, {}).get(k), base_lang.get(lang, {}).get(k)) for k in language_metrics}
        for lang in sorted(set(cur_lang) | set(base_lang))
    }
    size_speed = {}
    cur_s, base_s = current.get("size_speed") or {}, baseline.get("size_speed") or {}
    for key in ("student_params", "student_int8_bytes", "student_p50_ms"):
        if key in cur_s or key in base_s:
            size_speed[key] = _delta(cur_s.get(key), base_s.get(key))
    cur_c, base_c = _flatten(current.get("config") or {}), _flatten(baseline.get("config") or {})
    changes = [{"key": k, "baseline": json.dumps(base_c.get(k)), "current": json.dumps(cur_c.get(k))}
               for k in sorted(set(cur_c) | set(base_c)) if cur_c.get(k) != base_c.get(k)]
    return {
        "baseline_run": baseline["run"]["id"],
        "blessed": {"current": (current.get("verdict") or {}).get("blessed"), "baseline": (baseline.get("verdict") or {}).get("blessed")},
        "overall": overall,
        "language_metrics": language_metrics,
        "per_language": per_language,
        "size_speed": size_speed,
        "config_changes": changes,
    }


# --------------------------------------------------------------------------- charts


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _nan0(v: Optional[float]) -> float:
    return 0.0 if v is None or math.isnan(v) else v


def chart_fraction(report: Dict[str, Any]) -> str:
    """Fraction of teacher (exact match) per language and overall, with the gate and the floor."""
    import matplotlib.pyplot as plt

    verdict, metrics = report["verdict"], report["metrics"]
    headline = verdict["headline"]
    names = sorted(metrics["per_language"]) + ["overall"]
    values = [metrics["per_language"][n].get(headline, math.nan) for n in names[:-1]] + [verdict["overall_value"]]
    floor = verdict["floor_used"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.45 * len(names) + 2), 3.6))
    colors = ["#c5221f" if math.isnan(v) or (floor is not None and v < floor) else "#1a73e8" for v in values]
    colors[-1] = "#5f6368" if colors[-1] == "#1a73e8" else colors[-1]
    ax.bar(names, [_nan0(v) for v in values], color=colors)
    for i, v in enumerate(values):
        ax.text(i, _nan0(v) + 0.01, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center", va="bottom", fontsize=9)
    if verdict["threshold"] is not None:
        ax.axhline(verdict["threshold"], color="#1e8e3e", linestyle="--", label=f"gate {verdict['threshold']:.2f}")
    if verdict["per_language_floor"] is not None:
        ax.axhline(verdict["per_language_floor"], color="#b06000", linestyle=":", label=f"language floor {verdict['per_language_floor']:.2f}")
    top = max([_nan0(v) for v in values] + [verdict["threshold"] or 0, 1.0]) * 1.12
    ax.set_ylim(0, top)
    ax.set_ylabel("student EM / teacher EM")
    ax.set_title("Fraction of teacher (exact match) per language; red: below the floor or undefined")
    ax.legend(loc="lower right", fontsize=9)
    ax.tick_params(axis="x", rotation=90 if len(names) > 14 else 0)
    return _png(fig)


def chart_per_language(report: Dict[str, Any]) -> str:
    """Student vs teacher per language: exact match, intent accuracy, slot F1."""
    import matplotlib.pyplot as plt
    import numpy as np

    per_language = report["metrics"]["per_language"]
    langs = sorted(per_language)
    x = np.arange(len(langs))
    fig, axes = plt.subplots(3, 1, figsize=(max(7.0, 0.4 * len(langs) + 2), 8.4), sharex=True)
    axes[-1].set_xlim(-0.8, len(langs) - 0.2)  # one or two languages: keep the bars narrow
    for ax, metric in zip(axes, METRIC_COLUMNS):
        for offset, who, color in ((-0.2, "teacher", "#9aa0a6"), (0.2, "student", "#1a73e8")):
            values = [_nan0(per_language[lang].get(f"{who}_{metric}")) for lang in langs]
            ax.bar(x + offset, values, 0.4, label=who, color=color)
            if len(langs) <= 12:  # few languages: the numbers fit on the bars
                for xi, v in zip(x + offset, values):
                    ax.text(xi, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # outside: bars reach 1.0
    axes[0].set_title("Student vs teacher per language (eval split)")
    axes[-1].set_xticks(x, langs, rotation=90 if len(langs) > 14 else 0)
    return _png(fig)


def chart_confusion(predictions: Dict[str, Any]) -> str:
    """The student's intent confusion matrix, rows (gold) normalised; counts printed when small."""
    import matplotlib.pyplot as plt
    import numpy as np

    labels = predictions["labels"]
    matrix = np.array(predictions["confusion"]["student"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    side = max(5.0, 0.34 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fontsize = 9 if len(labels) <= 25 else 8
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set_xlabel("predicted by the student")
    ax.set_ylabel("gold intent")
    if len(labels) <= 25:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if normalised[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.04, label="share of the gold intent's examples")
    ax.set_title("Intent confusion of the student (eval split)")
    return _png(fig)


def chart_slots(predictions: Dict[str, Any]) -> Optional[str]:
    import matplotlib.pyplot as plt
    import numpy as np

    slots = predictions["slot_f1"]
    names = sorted(slots, key=lambda n: -slots[n]["support"])
    if not names:
        return None
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(names) + 1.2)))
    for offset, who, color in ((0.2, "teacher", "#9aa0a6"), (-0.2, "student", "#1a73e8")):
        ax.barh(y + offset, [_nan0(slots[n][who]["f1"]) for n in names], 0.4, label=who, color=color)
    ax.set_yticks(y, [f"{n} ({slots[n]['support']})" for n in names], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("slot F1 (gold spans in brackets)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.set_title("Slot F1 per slot type (eval split)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def chart_training(training: Dict[str, Any]) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = training["series"]
    names = list(series)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for subdir, style in (("train", "o-"), ("validation", "s--")):
            points = series[name].get(subdir)
            if points:
                ax.plot([s + 1 for s, _ in points], [v for _, v in points], style, label=subdir, markersize=4)
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def chart_timeline(lineage_data: Dict[str, Any]) -> str:
    """Each execution as a bar from its start to its end, coloured by state."""
    import matplotlib.pyplot as plt

    executions = lineage_data["executions"]
    colors = {"COMPLETE": "#1a73e8", "CACHED": "#9aa0a6", "FAILED": "#c5221f"}
    fig, ax = plt.subplots(figsize=(9, max(2.2, 0.32 * len(executions) + 1)))
    start0 = min((e["started_ms"] for e in executions), default=0)
    span = max([(e["started_ms"] - start0) / 1000 + e["seconds"] for e in executions] + [1.0])
    for i, e in enumerate(executions):
        offset = (e["started_ms"] - start0) / 1000
        width = max(e["seconds"], span / 300)  # a cache hit stays visible without looking long
        ax.barh(i, width, left=offset, color=colors.get(e["state"], "#b06000"))
        ax.text(offset + width + span / 100, i, f"{e['seconds']:.1f} s {e['state'].lower()}", va="center", fontsize=8)
    ax.set_yticks(range(len(executions)), [e["component"] for e in executions], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run's first stage started")
    ax.set_title(f"Stages of the run ({lineage_data['wall_seconds']:.1f} s wall)")
    ax.set_xlim(0, span * 1.2)
    return _png(fig)


def charts(report: Dict[str, Any]) -> Dict[str, Optional[str]]:
    import matplotlib

    matplotlib.use("Agg")
    out: Dict[str, Optional[str]] = {"timeline": chart_timeline(report["lineage"])}
    if report["evaluated"]:
        out["fraction"] = chart_fraction(report)
        out["per_language"] = chart_per_language(report)
    if report["predictions"]:
        out["confusion"] = chart_confusion(report["predictions"])
        out["slots"] = chart_slots(report["predictions"])
    if report["training"]:
        out["training"] = chart_training(report["training"])
    return out


# --------------------------------------------------------------------------- HTML / JSON


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _count(value: Any) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _delta_text(value: Optional[float], digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def _sign(value: Optional[float]) -> str:
    return "" if not value else ("pos" if value > 0 else "neg")


def render_html(report: Dict[str, Any], images: Dict[str, Optional[str]]) -> str:
    import jinja2
    import yaml

    from pipeline.report_template import TEMPLATE

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=_num, count=_count, delta=_delta_text, sign=_sign)
    quality_rows, intent_rows, slot_rows = [], [], []
    if report["evaluated"]:
        metrics, verdict = report["metrics"], report["verdict"]
        below = {b["slice"] for b in verdict["below_floor"]}
        quality_rows = [("overall", {"v": metrics["overall"], "below": False})] + [
            (f"lang={lang}", {"v": values, "below": f"lang={lang}" in below}) for lang, values in sorted(metrics["per_language"].items())
        ]
        headline = verdict["headline"]
        # Worst first; undefined fractions (teacher never right) lead, then by size.
        intent_rows = sorted(metrics["per_intent"].items(),
                             key=lambda kv: (_nan0(kv[1].get(headline)) if not math.isnan(kv[1].get(headline, math.nan)) else -1,
                                             -kv[1].get("eval_examples", 0)))
    if report["predictions"]:
        slots = report["predictions"]["slot_f1"]
        slot_rows = sorted(slots.items(), key=lambda kv: -kv[1]["support"])
    images = {k: v for k, v in images.items() if v}
    return env.from_string(TEMPLATE).render(
        r=report, charts=_Charts(images), metric_cols=METRIC_COLUMNS, quality_rows=quality_rows, intent_rows=intent_rows,
        slot_rows=slot_rows, config_yaml=yaml.safe_dump(report["config"], sort_keys=True) if report["config"] else "",
    )


class _Charts(dict):
    """Charts by name for the template; a missing chart is falsy instead of an error."""

    def __getattr__(self, name: str) -> Optional[str]:
        return self.get(name)


def _json_safe(value: Any) -> Any:
    """NaN -> null, so the summary is strict JSON any tool can read."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_report(report: Dict[str, Any], output: str, json_output: Optional[str] = None) -> Tuple[str, str]:
    """Write the HTML page and the JSON summary (default: next to it, `.json`); returns both paths."""
    json_output = json_output or os.path.splitext(output)[0] + ".json"
    html = render_html(report, charts(report))
    for path, text in ((output, html), (json_output, json.dumps(_json_safe(report), indent=2, ensure_ascii=False))):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return output, json_output


# --------------------------------------------------------------------------- CLI


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline-root", help="pipeline root of a local run (default: <project.work_dir>/pipeline_root); "
                                                "its MLMD store is <root>/../metadata/metadata.sqlite")
    parser.add_argument("--metadata", help="MLMD sqlite file (overrides the one found from the pipeline root)")
    parser.add_argument("--run", default="latest", help="run id (pipeline_run context name or id) or 'latest' (default)")
    parser.add_argument("--output", default="report.html", help="HTML file to write; the JSON summary goes next to it")
    parser.add_argument("--json", dest="json_output", help="JSON summary file (default: the --output path with .json)")
    parser.add_argument("--baseline", help="run id to compare with (metric deltas, config changes)")
    parser.add_argument("--latency-queries", type=int, default=100,
                        help="single queries timed per model for the latency figures (0: skip size and speed)")


def metadata_path(config: Config, pipeline_root: Optional[str], metadata: Optional[str]) -> str:
    """The MLMD store of a local run: LocalDagRunner's layout (see `pipeline.local_runner.run_paths`)."""
    if metadata:
        return metadata
    if pipeline_root:
        return os.path.join(os.path.dirname(os.path.abspath(pipeline_root.rstrip("/"))), "metadata", "metadata.sqlite")
    from pipeline.local_runner import run_paths  # imports TFX: only when the config names the store

    return run_paths(config).metadata_path


def main_report(args: argparse.Namespace, config: Config) -> int:
    path = metadata_path(config, args.pipeline_root, args.metadata)
    try:
        store = open_store(path)
        run = load_run(store, path, config.project.name, args.run)
        baseline_run = load_run(store, path, config.project.name, args.baseline) if args.baseline else None
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    report = collect(run, config, args.latency_queries)
    if baseline_run is not None:
        # The baseline's teacher is usually the same model: only the student is re-timed.
        baseline = collect(baseline_run, config, args.latency_queries, measure_teacher=False)
        report["comparison"] = compare(report, baseline)
    html, summary = write_report(report, args.output, args.json_output)
    print(f"wrote {html} and {summary} (run {run.id}, {report['run']['status']})")
    if not report["evaluated"]:
        print(f"report: {report['message']}", file=sys.stderr)
        return 1
    verdict = report["verdict"]
    print(f"{'BLESSED' if verdict['blessed'] else 'NOT BLESSED'}: {verdict['headline']} {_num(verdict['overall_value'])}"
          f" (gate {_num(verdict['threshold'])}); {len(verdict['below_floor'])} slice(s) below the floor")
    return 0
