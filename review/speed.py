"""Size and single-query latency of a run's student and teacher on this machine, and the timing
helpers the benchmarks (`bench/`) share: `timed` and `machine`."""

from __future__ import annotations

import math
import os
import platform
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from review.artifacts import eval_split, read_examples, read_json
from review.run_store import Artifact, Run
from schemas.examples import decode
from schemas.features import TEXT, TFLITE_DIR, TFLITE_FILE, TOKENS

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
STUDENT_CONFIG_FILE = "student_config.json"  # written beside the TFLite file by pqrnn.export


def timed(fn: Callable[[int], object], n: int, warmup: int = 2) -> np.ndarray:
    """Milliseconds per call of fn(i), i = 0..n-1, after `warmup` untimed calls (tracing, allocation)."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1e3)
    return np.array(times)


def latency(fn: Callable[[int], object], n: int) -> Dict[str, float]:
    """p50 and p90 single-call latency of fn(i) in milliseconds (see `timed`)."""
    times = timed(fn, n)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90))}


def machine() -> str:
    """The machine timings are measured on, in words (host, cores, CPU model, GPUs, load)."""
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    # The load tells whether other work shared the cores while timings were taken.
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.node() or 'this machine'}: {os.cpu_count()} CPU cores ({cpu}), {len(gpus)} GPU(s), "
        f"{platform.system()}{load}"
    )


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


def _student_rows(model: Artifact, texts: Sequence[str], queries: int) -> List[Dict[str, Any]]:
    """The fp32 SavedModel on raw text, and (when exported) the int8 TFLite encoder + projection."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from pqrnn.export import pad_features, saved_model_bytes

    serving = path_utils.serving_model_path(model.uri)
    loaded = tf.saved_model.load(serving)
    params = int(sum(np.prod(v.shape) for v in loaded.model.trainable_variables))
    serve, project = loaded.signatures["serving_default"], loaded.signatures["project_text"]
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
    with tf.io.gfile.GFile(tflite_path, "rb") as f:
        flatbuffer = f.read()
    runner = tf.lite.Interpreter(model_content=flatbuffer).get_signature_runner()
    student_config = read_json(os.path.join(serving, TFLITE_DIR, STUDENT_CONFIG_FILE)) or {}
    markers = 2 if student_config.get("projection", {}).get("add_bos_eos", True) else 0
    fixed_length = int(runner.get_input_details()["features"]["shape_signature"][1])

    def lite(i: int) -> object:
        # What a device runs: the projection, then the int8 encoder on this query's length
        # (or padded to the encoder's fixed length, for encoders exported with one).
        projected = project(text=tf.constant([texts[i % len(texts)]]))
        length = fixed_length if fixed_length > 0 else int(projected["num_tokens"][0]) + markers
        return runner(features=pad_features(projected["features"].numpy(), length))

    int8 = {"name": "student (int8 TFLite + projection)", "params": params, "fp32_bytes": params * 4}
    int8.update(int8_bytes=len(flatbuffer), **latency(lite, queries))
    student["int8_bytes"] = len(flatbuffer)
    return rows + [int8]


def _teacher_row(
    teacher: Artifact, max_length: int, token_lists: Sequence[Sequence[str]], queries: int
) -> Dict[str, Any]:
    """The fp32 PyTorch teacher on word lists: tokenise + forward, one query at a time."""
    import torch

    from teacher.inputs import collate, encode_words
    from teacher.model import load_teacher

    model, tokenizer = load_teacher(teacher.uri)
    token_lists = [list(t) for t in token_lists if t] or [["turn", "on", "the", "light"]]

    def query(i: int) -> object:
        with torch.no_grad():
            words = token_lists[i % len(token_lists)]
            return model(**collate([encode_words(words, tokenizer, max_length)], tokenizer.pad_token_id))

    params = int(sum(p.numel() for p in model.parameters()))
    row = {
        "name": "teacher (fp32 PyTorch, words in)",
        "params": params,
        "fp32_bytes": weight_bytes(teacher.uri),
        # No int8 teacher is built: one byte per parameter is what one would weigh.
        "int8_bytes": params,
        "int8_estimated": True,
        "uri": teacher.uri,
    }
    row.update(latency(query, queries))
    return row


def size_and_speed(
    run: Run,
    teacher_max_length: int,
    texts: Sequence[str],
    token_lists: Sequence[Sequence[str]],
    queries: int,
    teacher: bool = True,
) -> Dict[str, Any]:
    """Parameters, bytes and single-query latency of the student (SavedModel on raw text; int8
    TFLite encoder + projection) and, with `teacher`, of the teacher (tokenise + forward; its
    sub-token limit `teacher_max_length`), on this machine. The run must have a student."""
    rows = _student_rows(run.student_model(), texts, queries)
    student = rows[0]
    result: Dict[str, Any] = {
        "machine": machine(),
        "queries": queries,
        "rows": rows,
        "student_params": student["params"],
        "student_int8_bytes": student["int8_bytes"],
        "student_p50_ms": student["p50_ms"],
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
            latency_ratio=row["p50_ms"] / student["p50_ms"] if student["p50_ms"] else math.nan,
        )
    return result
