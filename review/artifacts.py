"""What a run's stages wrote, read from their artifacts: examples, data counts per split and
language, augmentation, dead letters, the config each stage was given, the lineage and the
Trainer's training curves."""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from review.run_store import Execution, Run
from schemas.features import (
    EVAL,
    SPLITS,
    STUDENT_STOPPING_FILE,
    TEACHER_METRICS_FILE,
    TRAIN,
    split_dir,
    split_file_pattern,
)

SUMMARY_FILE = "summary.json"  # the job summary a Beam stage writes into its output artifact
FIRST_DEAD_LETTERS = 3


def utc(ms: float) -> str:
    """An MLMD time (milliseconds since the epoch) as `YYYY-mm-dd HH:MM:SS` UTC."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def read_json(path: str) -> Optional[Dict[str, Any]]:
    """A JSON file (local or remote), or None when it does not exist."""
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def first_jsonl(pattern: str, n: int) -> List[Dict[str, Any]]:
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


def read_examples(uri: str, split: str) -> List[bytes]:
    """The serialized tf.Examples of one split of an `Examples` artifact."""
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(split_file_pattern(uri, split)))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def write_examples(uri: str, split: str, records: Iterable[bytes]) -> int:
    """Serialized tf.Examples as one split of an `Examples` folder (one gzipped file); the count."""
    import tensorflow as tf

    os.makedirs(split_dir(uri, split), exist_ok=True)
    n = 0
    with tf.io.TFRecordWriter(os.path.join(split_dir(uri, split), "data_tfrecord-00000-of-00001.gz"), "GZIP") as w:
        for record in records:
            w.write(record)
            n += 1
    return n


def eval_split(evaluator: Optional[Execution]) -> str:
    """The split the Evaluator scored (its `example_splits` execution property)."""
    splits = json.loads(evaluator.properties.get("example_splits") or "null") if evaluator else None
    return splits[0] if splits else EVAL


def _summary(run: Run, component: str, key: str) -> Optional[Dict[str, Any]]:
    artifact = run.artifact(component, key)
    return read_json(os.path.join(artifact.uri, SUMMARY_FILE)) if artifact else None


def data_counts(run: Run) -> Dict[str, Any]:
    """Examples per split x language, augmentation by method, soft labels per split."""
    out: Dict[str, Any] = {"counts": {}, "languages": [], "augmentation": None, "soft_labels": None}
    summary = _summary(run, "DatasetGen", "examples")
    if summary:
        counts = summary.get("counts", {})
        out["counts"] = {
            split: {lang: sum(intents.values()) for lang, intents in sorted(counts[split].items())}
            for split in SPLITS
            if split in counts
        }
        out["languages"] = sorted({lang for langs in out["counts"].values() for lang in langs})
    summary = _summary(run, "Augment", "augmented_examples")
    if summary:
        by_method = summary.get("by_method", {})
        outcomes = sorted({o for m in by_method.values() for o in m}, key=lambda o: (o != "emitted", o))
        out["augmentation"] = {
            "emitted": summary.get("emitted", 0),
            "train_rows": summary.get("train_rows", 0),
            "by_method": by_method,
            "outcomes": outcomes,
        }
    summary = _summary(run, "TeacherInference", "soft_label_examples")
    if summary:
        rows = summary.get("rows_out_by_split", {})
        out["soft_labels"] = {s: rows[s] for s in SPLITS if s in rows}
    return out


def dead_letters(run: Run) -> Dict[str, Dict[str, Any]]:
    """Per stage whose output holds a job summary: rows in, dead-lettered, counts by code, first rows."""
    out: Dict[str, Dict[str, Any]] = {}
    for execution in run.executions:
        for ids in execution.outputs.values():
            for artifact_id in ids:
                uri = run.artifacts[artifact_id].uri if artifact_id in run.artifacts else None
                summary = read_json(os.path.join(uri, SUMMARY_FILE)) if uri else None
                if summary is None or "dead_lettered" not in summary:
                    continue
                first = first_jsonl(os.path.join(uri, "dead_letter", "*.jsonl"), FIRST_DEAD_LETTERS)
                out[execution.component] = {
                    "rows_in": summary.get("rows_in", summary.get("train_rows")),
                    "count": summary["dead_lettered"],
                    "by_code": summary.get("dead_letter_reasons", {}),
                    "first": [
                        {"code": d.get("code"), "reason": d.get("reason"), "row": str(d.get("row"))[:160]}
                        for d in first
                    ],
                }
    return out


def _merge(into: Dict[str, Any], part: Dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def run_config(run: Run) -> Optional[Dict[str, Any]]:
    """The config the run's stages were given: each carries the sections it reads (`config_json`,
    the Trainer's `custom_config`), merged here."""
    merged: Dict[str, Any] = {}
    for execution in run.executions:
        for key in ("config_json", "custom_config"):
            text = execution.properties.get(key)
            if isinstance(text, str) and text.startswith("{"):
                _merge(merged, json.loads(text))
    return merged or None


def teacher_max_length(run: Run, default: int) -> int:
    """The sub-token limit the run's teacher inference used (`default` when the run does not say)."""
    used = run_config(run) or {}
    return int(used.get("teacher", {}).get("inference", {}).get("max_length", default))


def lineage(run: Run) -> Dict[str, Any]:
    """Executions (times, states, artifact ids in and out), artifacts, stages not reached, wall time."""
    executions = [
        {
            "id": e.id,
            "component": e.component,
            "state": e.state,
            "started": utc(e.started_ms),
            "finished": utc(e.finished_ms),
            "started_ms": e.started_ms,
            "seconds": (e.finished_ms - e.started_ms) / 1000,
            "inputs": e.inputs,
            "outputs": e.outputs,
        }
        for e in run.executions
    ]
    artifacts = [
        {"id": a.id, "type": a.type, "producer": a.producer, "uri": a.uri, "created": utc(a.created_ms)}
        for a in sorted(run.artifacts.values(), key=lambda a: a.id)
    ]
    wall = 0.0
    if run.executions:
        wall = (max(e.finished_ms for e in run.executions) - min(e.started_ms for e in run.executions)) / 1000
    return {"executions": executions, "artifacts": artifacts, "not_reached": run.not_reached, "wall_seconds": wall}


def _events(path: str) -> Iterator[Any]:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    for record in tf.data.TFRecordDataset([path]):
        yield event_pb2.Event.FromString(record.numpy())


def _epoch_scalars(log_dir: str) -> Tuple[Dict[str, Dict[str, List[Tuple[int, float]]]], List[float]]:
    """({metric: {train|validation: [(epoch, value)]}}, wall times of the train events)."""
    import tensorflow as tf

    series: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
    wall_times: List[float] = []
    for subdir in ("train", "validation"):
        for path in sorted(tf.io.gfile.glob(os.path.join(log_dir, subdir, "events.out.tfevents.*"))):
            for event in _events(path):
                if subdir == "train":
                    wall_times.append(event.wall_time)
                for value in event.summary.value:
                    if not value.tag.startswith("epoch_"):
                        continue
                    number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                    series.setdefault(value.tag[len("epoch_") :], {}).setdefault(subdir, []).append(
                        (int(event.step), number)
                    )
    return series, wall_times


def training_curves(run: Run) -> Optional[Dict[str, Any]]:
    """Per-epoch scalars of the Trainer's TensorBoard logs (train and validation), and the
    training throughput: train rows x epochs over the time from the first to the last event."""
    model_run = run.artifact("Trainer", "model_run")
    if model_run is None:
        return None
    series, wall_times = _epoch_scalars(model_run.uri)
    if not series:
        return None
    epochs = max(len(points) for by_split in series.values() for points in by_split.values())
    soft_labels = run.artifact("Trainer", "examples", "inputs")
    summary = read_json(os.path.join(soft_labels.uri, SUMMARY_FILE)) if soft_labels else None
    train_rows = (summary or {}).get("rows_out_by_split", {}).get(TRAIN)
    seconds = max(wall_times) - min(wall_times) if len(wall_times) > 1 else None
    return {
        "log_dir": model_run.uri,
        "series": {name: {k: sorted(v) for k, v in by_split.items()} for name, by_split in sorted(series.items())},
        "epochs": epochs,
        "train_rows": train_rows,
        "seconds": seconds,
        "examples_per_second": train_rows * epochs / seconds if train_rows and seconds else None,
    }


def stopping_points(run: Run) -> Dict[str, Optional[Dict[str, Any]]]:
    """Where and why the teacher fine-tune and the Trainer stopped (None for a stage the run
    does not have, or one from before the schedules stopped on eval)."""
    teacher, model_run = run.teacher_model(), run.artifact("Trainer", "model_run")
    fine_tune = read_json(os.path.join(teacher.uri, TEACHER_METRICS_FILE)) if teacher else None
    student = read_json(os.path.join(model_run.uri, STUDENT_STOPPING_FILE)) if model_run else None
    return {
        "teacher": (
            {**fine_tune["stopped"], "eval_exact_match": fine_tune["eval"]["all"]["exact_match"]}
            if fine_tune and "stopped" in fine_tune
            else None
        ),
        "student": (
            {**student, "eval_exact_match": student["eval_exact_match_per_epoch"][student["kept_epoch"] - 1]}
            if student
            else None
        ),
    }


def format_stopping_points(points: Dict[str, Optional[Dict[str, Any]]]) -> List[str]:
    """One line per stage: where it stopped, what it kept and why."""
    lines = []
    teacher, student = points.get("teacher"), points.get("student")
    if teacher:
        lines.append(
            f"teacher fine-tune: kept step {teacher['best_step']} (epoch {teacher['best_epoch']}, eval exact match "
            f"{teacher['eval_exact_match']:.3f}), stopped at step {teacher['last_step']}: {teacher['reason']}"
        )
    if student:
        lines.append(
            f"student: kept epoch {student['kept_epoch']} of {student['epochs_run']} (eval exact match "
            f"{student['eval_exact_match']:.3f}), stopped: {student['reason']}"
        )
    return lines
