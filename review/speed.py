"""Size and single-query latency of a run's student and teacher on this machine: the report's
size-and-speed section. `bench.speed` and `bench.run_all` measure with the same functions."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

import numpy as np

from review.artifacts import eval_split, read_examples, read_json
from review.run_store import Artifact, Run
from runtime.timing import latency, machine, timed
from schemas.examples import decode
from schemas.features import INTENT_VOCAB, SLOT_TAG_VOCAB, TEXT, TFLITE_DIR, TFLITE_FILE, TOKENS, vocab_file

if TYPE_CHECKING:
    from pqrnn.serving import FastStudent

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def weight_bytes(path: str) -> int:
    """Bytes of the weight files under a local Hugging Face model folder."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(WEIGHT_SUFFIXES))
    return total


def student_tflite_path(model_uri: str) -> str:
    """The int8 TFLite file inside a Trainer's Model artifact."""
    from tfx.utils import path_utils

    return os.path.join(path_utils.serving_model_path(model_uri), TFLITE_DIR, TFLITE_FILE)


def eval_queries(run: Run, n: int = 512) -> Tuple[List[str], List[List[str]]]:
    """Texts (for the student) and word lists (for the teacher) of the first `n` examples the
    Evaluator scored (else the soft-labelled ones): the queries latency is measured on."""
    examples, evaluator = run.artifact("Evaluator", "examples", "inputs"), run.execution("Evaluator")
    if examples is None or evaluator is None:
        examples = run.artifact("TeacherInference", "soft_label_examples")
    if examples is None:
        return [], []
    rows = [decode(r) for r in read_examples(examples.uri, eval_split(evaluator))[:n]]
    return [r[TEXT][0] for r in rows if r.get(TEXT)], [r[TOKENS] for r in rows if r.get(TOKENS)]


def fast_student(serving_dir: str, interpreter_class: Any = None) -> FastStudent:
    """The deployable fast path (`pqrnn.serving.FastStudent`: NumPy projection + int8 TFLite
    encoder) of an exported student folder, read through `tf.io.gfile` (local or remote);
    `interpreter_class` as FastStudent takes it (default: LiteRT's)."""
    import tensorflow as tf

    from pqrnn.serving import STUDENT_CONFIG_FILE, FastStudent

    extra = os.path.join(serving_dir, TFLITE_DIR)
    with tf.io.gfile.GFile(os.path.join(extra, TFLITE_FILE), "rb") as f:
        flatbuffer = f.read()
    labels = []
    for name in (INTENT_VOCAB, SLOT_TAG_VOCAB):
        with tf.io.gfile.GFile(vocab_file(extra, name)) as f:
            labels.append(f.read().split("\n")[:-1])
    config = read_json(os.path.join(extra, STUDENT_CONFIG_FILE))
    return FastStudent(flatbuffer, labels[0], labels[1], config, interpreter_class=interpreter_class)


def fast_student_latency(serving_dir: str, texts: Sequence[str], queries: int) -> Dict[str, Any]:
    """Single-query latency of the fast path on raw text (`fast_student`), as a service that has
    been up for a while: first warmed on other queries (its token cache and per-length
    interpreters hold what those needed), then timed on `queries` texts it has not seen
    (p50/p90 ms); `cold_cache_p50_ms`: the same queries with the token cache off."""
    texts = list(texts) or ["turn on the light"]
    timed_texts, warm_texts = texts[:queries], texts[queries:] or texts
    student = fast_student(serving_dir)
    for text in warm_texts:
        student(text)

    def query(i: int) -> object:
        return student(timed_texts[i % len(timed_texts)])

    result = latency(query, queries)
    student.projection.cache_size = 0  # every token hashed again
    result["cold_cache_p50_ms"] = float(np.percentile(timed(query, queries), 50))
    return result


def _student_rows(model: Artifact, texts: Sequence[str], queries: int) -> List[Dict[str, Any]]:
    """The fp32 SavedModel on raw text, and (when exported) the int8 TFLite fast path on raw text."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from pqrnn.export import saved_model_bytes

    serving = path_utils.serving_model_path(model.uri)
    loaded = tf.saved_model.load(serving)
    params = int(sum(np.prod(v.shape) for v in loaded.model.trainable_variables))
    serve = loaded.signatures["serving_default"]
    texts = list(texts) or ["turn on the light"]
    student = {
        "name": "student (fp32 SavedModel, raw text in)",
        "params": params,
        "fp32_bytes": params * 4,
        "saved_model_bytes": saved_model_bytes(serving),
        "int8_bytes": None,
    }
    student.update(latency(lambda i: serve(text=tf.constant([texts[i % len(texts)]])), queries))
    rows = [student]
    tflite_path = student_tflite_path(model.uri)
    if not tf.io.gfile.exists(tflite_path):
        return rows
    student["int8_bytes"] = tf.io.gfile.stat(tflite_path).length
    # What a service deploys: tokenizer + NumPy projection + int8 encoder, no TensorFlow call.
    int8 = {"name": "student (int8 TFLite + NumPy projection, raw text in)", "params": params}
    int8.update(
        fp32_bytes=params * 4, int8_bytes=student["int8_bytes"], **fast_student_latency(serving, texts, queries)
    )
    return rows + [int8]


def teacher_latency(
    teacher_dir: str, max_length: int, token_lists: Sequence[Sequence[str]], queries: int
) -> Dict[str, Any]:
    """The fp32 PyTorch teacher on word lists, one query at a time: tokenise (`encode_words`,
    at most `max_length` sub-tokens) + forward in eval mode under no_grad, torch's own thread
    count; p50/p90 ms, parameters."""
    import torch

    from teacher.inputs import collate, encode_words
    from teacher.model import load_teacher

    model, tokenizer = load_teacher(teacher_dir)
    token_lists = [list(t) for t in token_lists if t] or [["turn", "on", "the", "light"]]

    def query(i: int) -> object:
        with torch.no_grad():
            words = token_lists[i % len(token_lists)]
            return model(**collate([encode_words(words, tokenizer, max_length)], tokenizer.pad_token_id))

    return {"params": int(sum(p.numel() for p in model.parameters())), **latency(query, queries)}


def _teacher_row(
    teacher: Artifact, max_length: int, token_lists: Sequence[Sequence[str]], queries: int
) -> Dict[str, Any]:
    """The fp32 PyTorch teacher on word lists: tokenise + forward, one query at a time."""
    measured = teacher_latency(teacher.uri, max_length, token_lists, queries)
    row = {
        "name": "teacher (fp32 PyTorch, words in)",
        "params": measured["params"],
        "fp32_bytes": weight_bytes(teacher.uri),
        # No int8 teacher is built: one byte per parameter is what one would weigh.
        "int8_bytes": measured["params"],
        "int8_estimated": True,
        "uri": teacher.uri,
    }
    row.update(p50_ms=measured["p50_ms"], p90_ms=measured["p90_ms"])
    return row


def size_and_speed(
    run: Run,
    teacher_max_length: int,
    texts: Sequence[str],
    token_lists: Sequence[Sequence[str]],
    queries: int,
    teacher: bool = True,
) -> Dict[str, Any]:
    """Parameters, bytes and single-query latency of the student (SavedModel on raw text; the
    int8 TFLite fast path on raw text) and, with `teacher`, of the teacher (tokenise + forward;
    its sub-token limit `teacher_max_length`), on this machine. The run must have a student.
    `student_p50_ms` and the latency ratio are those of the deployable path: the fast path
    when the run exported the int8 TFLite file, else the SavedModel."""
    rows = _student_rows(run.student_model(), texts, queries)
    student = rows[0]
    result: Dict[str, Any] = {
        "machine": machine(),
        "queries": queries,
        "rows": rows,
        "student_params": student["params"],
        "student_int8_bytes": student["int8_bytes"],
        "student_p50_ms": rows[-1]["p50_ms"],
        "student_saved_model_p50_ms": student["p50_ms"],
        "size_ratio": math.nan,
        "params_ratio": math.nan,
        "latency_ratio": math.nan,
    }
    teacher_model = run.teacher_model()
    if teacher and teacher_model is not None:
        row = _teacher_row(teacher_model, teacher_max_length, token_lists, queries)
        rows.append(row)
        student_size = student["int8_bytes"] or student["fp32_bytes"]
        result.update(
            size_ratio=row["fp32_bytes"] / student_size if student_size else math.nan,
            params_ratio=row["params"] / student["params"] if student["params"] else math.nan,
            latency_ratio=row["p50_ms"] / result["student_p50_ms"] if result["student_p50_ms"] else math.nan,
        )
    return result
