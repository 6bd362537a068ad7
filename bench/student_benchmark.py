"""Size and CPU latency of the pQRNN student: fp32 SavedModel (raw text in) vs int8 TFLite.

    .venv/bin/python -m bench.student_benchmark [--config pipeline.yaml]

Builds the configured student (`student:` section) with freshly initialised weights (size
and speed do not depend on the weights' values), exports both formats, and times them on a
multilingual query set: single-query latency p50/p99 and batch-64 throughput. The TFLite
model is the encoder (features in); its latency is reported with and without the
projection (`project_text` of the SavedModel, which a device would run natively).
Writes a markdown table to bench/results/student.md (see --output).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import List

import numpy as np
import tensorflow as tf

from config_core import add_config_arguments
from pipeline.config import load_config_or_exit
from pqrnn.export import export_saved_model, export_tflite_int8, pad_features, saved_model_bytes
from pqrnn.model import build_student
from runtime.timing import machine, timed

QUERIES = [
    "turn on the lights in the kitchen",
    "set the thermostat to 21 degrees, please!",
    "what's the weather like tomorrow in Berlin?",
    "schalte das Licht im Wohnzimmer aus",
    "stelle die Heizung auf 22 Grad",
    "allume la lumière de la cuisine",
    "baja la persiana del dormitorio al 50%",
    "लिविंग रूम की बत्ती बंद करो",
    "पंखा चालू करो",
    "เปิดไฟในห้องนั่งเล่น",
    "ตั้งอุณหภูมิเป็น 25 องศา",
    "把客厅的灯打开",
    "lock the front door and close the garage",
    "how warm is it in the bedroom",
    "dim the office lights to 30 percent",
    "start the vacuum cleaner",
]


def run(config_path: str, overrides: List[str], num_intents: int, num_tags: int, repeats: int, output: str) -> str:
    config = load_config_or_exit(config_path, overrides)
    student = config.student
    model = build_student(student, num_intents, num_tags)
    params = model.count_params() - sum(int(np.prod(v.shape)) for v in model.non_trainable_variables)
    workdir = tempfile.mkdtemp(prefix="student_bench_")
    saved_path = export_saved_model(
        model,
        [f"intent_{i}" for i in range(num_intents)],
        # BIO tags, as the exported student decodes them: "O", then B-/I- pairs.
        ["O", *[f"{'BI'[i % 2]}-slot{i // 2}" for i in range(num_tags - 1)]],
        os.path.join(workdir, "saved"),
    )
    loaded = tf.saved_model.load(saved_path)
    serve, project = loaded.signatures["serving_default"], loaded.signatures["project_text"]
    features = [project(text=tf.constant([q]))["features"].numpy() for q in QUERIES]
    tflite_path = os.path.join(workdir, "student_int8.tflite")
    export_tflite_int8(model, features, tflite_path)
    interpreter = tf.lite.Interpreter(model_path=tflite_path)
    runner = interpreter.get_signature_runner()

    one = tf.constant(QUERIES[:1])
    batch = tf.constant((QUERIES * 4)[:64])
    # Like the SavedModel, the TFLite model gets each input cut to its longest row.
    markers = 2 if student.projection.add_bos_eos else 0
    lengths = [int(project(text=tf.constant([q]))["num_tokens"][0]) + markers for q in QUERIES]
    one_features = features[0][:, : lengths[0]]
    batch_features = pad_features(np.concatenate([features[i % len(features)] for i in range(64)]), max(lengths))

    # Milliseconds per call (`runtime.timing.timed`, as the review report times its models).
    sm_single = timed(lambda _: serve(text=one), repeats)
    sm_batch = timed(lambda _: serve(text=batch), max(repeats // 10, 5))
    proj_single = timed(lambda _: project(text=one), repeats)
    lite_single = timed(lambda _: runner(features=one_features), repeats)
    lite_batch = timed(lambda _: runner(features=batch_features), max(repeats // 10, 5))

    def ms(t: np.ndarray, q: float) -> str:
        return f"{np.percentile(t, q):.2f}"

    rows = [
        ("fp32 SavedModel (raw text in)", saved_model_bytes(saved_path), sm_single, sm_batch),
        ("int8 TFLite encoder (features in)", os.path.getsize(tflite_path), lite_single, lite_batch),
        ("int8 TFLite + projection", os.path.getsize(tflite_path), lite_single + proj_single, None),
    ]
    lines = [
        f"Student: {params:,} trainable parameters (feature_size {student.projection.feature_size}, "
        f"bottleneck {student.bottleneck_size}, QRNN {student.qrnn.num_layers}x{student.qrnn.state_size} "
        f"bidirectional, kernel {student.qrnn.kernel_width}, max_tokens {student.max_tokens}, "
        f"{num_intents} intents, {num_tags} slot tags). Measured on {machine()}; "
        f"TF {tf.__version__}; {repeats} single queries.",
        "",
        "| format | bytes | p50 single query (ms) | p99 single query (ms) | batch-64 throughput (queries/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, size, single, batched in rows:
        throughput = f"{64e3 / np.median(batched):,.0f}" if batched is not None else "-"
        lines.append(f"| {name} | {size:,} | {ms(single, 50)} | {ms(single, 99)} | {throughput} |")
    table = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--num_intents", type=int, default=40, help="intent classes (Home Assistant default set: ~40)")
    parser.add_argument("--num_tags", type=int, default=61, help="BIO slot tags")
    parser.add_argument("--repeats", type=int, default=300, help="timed single queries per format")
    parser.add_argument("--output", default="bench/results/student.md")
    args = parser.parse_args()
    start = time.time()
    print(run(args.config, args.overrides, args.num_intents, args.num_tags, args.repeats, args.output))
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
