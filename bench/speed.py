"""The speed figures of the project in one command, measured in one run on the machine at hand.

    .venv/bin/python -m bench.speed [--config pipeline.yaml] [--set key=value]
        [--run latest|ID|none] [--output bench/results/speed.json] [--teacher-rows 5000]
        [--train-steps 60] [--latency-queries 200]

Needs nothing beyond `make run`'s install. Inputs come from the latest pipeline run where it
has them (`--run`), else are made here: the dataset by the dataset job, soft labels as random
logits on it (speed does not depend on their values), a freshly initialised student from the
config (SavedModel + int8 TFLite), the base teacher from the offline cache with fresh heads.
The JSON says which (`*_source`). Figures:

- trainer: `N` training steps of the library's own input pipeline and model
  (`pqrnn.data.make_dataset` + `pqrnn.model.build_student` + `model.fit`, as
  `pqrnn.train.train_student` runs them) after untimed warm-up steps (tracing), once in
  float and once with fake quantization (the two phases of `train_student`);
  `trainer_examples_per_s` is the whole schedule's (`training.epochs`, the last
  `training.quantization_aware_epochs` quantization-aware), the phases are given apart. MACs per
  example (`training_macs`): 3 x forward (forward + backward), forward per real token =
  B*d (bottleneck) + sum over QRNN layers of 2 directions * k * fan_in * 3H (the z, f, o
  convolutions) + 2H (attention score) + 2H*S (slot head), plus 2H*C (intent head) once per
  example; real tokens = kept words + BOS/EOS, padding excluded, counted on the timed batches.
  Element-wise work (batch norm, gates, pooling) is left out. `peak_mac_per_s`: the best of
  a few 2048^3 fp32 matmuls in TensorFlow, in the same process; `trainer_utilisation` is
  their quotient;
- latency (single queries, p50): the student on raw text on its deployable path
  (`pqrnn.serving.FastStudent`: tokenizer + NumPy projection + int8 TFLite; warmed on other
  queries, see `review.speed.fast_student_latency`) and the teacher on words
  (`review.speed.teacher_latency`: tokenise + fp32 forward, eval mode, no_grad); the student
  side by side on LiteRT (`ai_edge_litert`, what FastStudent loads) and on TensorFlow's
  `tf.lite.Interpreter` (what it loaded before), same model and queries, interleaved, and the
  install size of a service on each (`bench.serving_speed.measure`: `*_litert`, `*_tf_lite`,
  `service_install_mb_*`);
- teacher inference, Beam job vs plain transformers loop on the same rows
  (`bench.teacher_inference_benchmark.measure`): `beam_rows_per_s` is the job's steady-state
  throughput (its start-up, `beam_startup_s`, measured apart), `*_end_to_end` includes it;
  each path runs twice, interleaved, and the best run of each counts (`plain_runs_rows_per_s`,
  `beam_end_to_end_runs_rows_per_s` give every run).

Writes the JSON (`--output`) and prints the figures as a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from config_core import add_config_arguments
from pipeline.config import Config, load_config_or_exit
from pipeline.local_runner import run_paths
from pqrnn.config import StudentConfig
from pqrnn.train import configure_cpu_threads, student_cpu_threads
from review.artifacts import SUMMARY_FILE, read_examples, read_json
from review.run_store import Run, RunStoreError, read_run
from review.speed import fast_student_latency, teacher_latency
from runtime.timing import machine
from schemas.examples import decode, encode
from schemas.features import (
    AUG_METHOD,
    AUGMENTED,
    EVAL,
    INTENT,
    SLOT_TAGS,
    SPLITS,
    TEACHER_INTENT_LOGITS,
    TEACHER_SLOT_LOGITS,
    TEXT,
    TOKENS,
    TRAIN,
    bio_spans,
    sorted_vocabularies,
    split_dir,
    split_file_pattern,
)

KEYS = (
    "trainer_examples_per_s",
    "trainer_mac_per_s",
    "peak_mac_per_s",
    "trainer_utilisation",
    "student_latency_p50_ms",
    "teacher_latency_p50_ms",
    "latency_ratio",
    "beam_rows_per_s",
    "plain_rows_per_s",
    "beam_plain_ratio",
    "machine",
)


# ------------------------------------------------------------------ trainer and peak
def student_macs_per_token(student: StudentConfig, num_tags: int) -> int:
    """Forward multiply-accumulates per real token: bottleneck, QRNN gate convolutions (both
    directions), attention score and slot head (see the module docstring)."""
    b, d = student.projection.feature_size, student.bottleneck_size
    h, k = student.qrnn.state_size, student.qrnn.kernel_width
    macs = b * d
    for layer in range(student.qrnn.num_layers):
        fan_in = d if layer == 0 else 2 * h
        macs += 2 * k * fan_in * 3 * h
    return macs + 2 * h + 2 * h * num_tags


def training_macs(student: StudentConfig, num_intents: int, num_tags: int, tokens: int, examples: int) -> int:
    """Multiply-accumulates of training steps on `examples` rows holding `tokens` real tokens:
    3 x forward (the backward pass costs about twice the forward)."""
    forward = tokens * student_macs_per_token(student, num_tags) + examples * 2 * student.qrnn.state_size * num_intents
    return 3 * forward


def peak_mac_per_s(size: int = 2048, repeats: int = 5) -> float:
    """Multiply-accumulates per second of fp32 [size x size] matmuls in TensorFlow with this
    process's threads: one matmul per inter-op stream the Trainer uses (`student_cpu_threads`),
    run concurrently, so all cores work as in training; the best of `repeats`."""
    streams = student_cpu_threads()[1]
    pairs = [[tf.random.normal([size, size], seed=2 * i + j) for j in range(2)] for i in range(streams)]

    @tf.function
    def products():
        return [tf.linalg.matmul(a, b) for a, b in pairs]

    [p.numpy() for p in products()]  # warm-up: tracing, kernel selection, allocation
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        [p.numpy() for p in products()]
        best = min(best, time.perf_counter() - started)
    return streams * size**3 / best


class _StepTimes(tf.keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.ends: List[float] = []

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        self.ends.append(time.perf_counter())


def trainer_throughput(
    config: Config, soft_label_pattern: str, intents: Sequence[str], tags: Sequence[str], steps: int, warmup: int
) -> Dict[str, Any]:
    """Examples, real tokens and MACs per second of `steps` training steps after `warmup`
    untimed ones, with the library's dataset and model code and the config's student,
    distillation and training sections (as `pqrnn.train.train_student` builds them)."""
    from pqrnn.data import ExampleDecoder, make_dataset
    from pqrnn.model import build_student
    from pqrnn.projection import Projection
    from pqrnn.train import quantization_aware_start, strategy, use_bfloat16_matmuls

    training = config.training

    def dataset() -> tf.data.Dataset:
        decoder = ExampleDecoder(Projection.from_config(config.student), intents, tags, soft_labels=True)
        ds = make_dataset(
            soft_label_pattern,
            decoder,
            training.batch_size,
            training=True,
            seed=config.project.seed,
            language_exponent=training.language_sampling_exponent,
        )
        return ds.repeat()

    bfloat16 = use_bfloat16_matmuls(training)
    with strategy().scope():
        model = build_student(config.student, len(intents), len(tags))
        model.set_bfloat16_training(bfloat16)
        schedule = tf.keras.optimizers.schedules.ExponentialDecay(
            training.learning_rate, training.lr_decay_steps, training.lr_decay_rate, staircase=True
        )
        model.compile(optimizer=tf.keras.optimizers.Adam(schedule), distillation=config.distillation)
    qat_epochs = training.epochs - quantization_aware_start(config.student, training) if config.student.quantize else 0
    phase_seconds = {}
    for phase, fake_quant in (("float", False), ("qat", True)):
        model.set_fake_quant(fake_quant)
        model.train_function = None  # traced again with the flag
        times = _StepTimes()
        model.fit(dataset(), epochs=1, steps_per_epoch=warmup + steps, callbacks=[times], verbose=0)
        phase_seconds[phase] = times.ends[-1] - times.ends[warmup - 1]
    # The timed batches again (same seeds, same order; the distortion does not change shapes):
    # what they held, padding apart.
    examples = tokens = padded = 0
    markers = 2 if config.student.projection.add_bos_eos else 0
    for features, targets in dataset().skip(warmup).take(steps):
        rows = int(features.shape[0])
        examples += rows
        tokens += int(tf.reduce_sum(targets["slot_mask"])) + markers * rows
        padded += rows * int(features.shape[1])
    # Seconds per example over the schedule: float epochs at the float rate, the rest at QAT's.
    seconds = ((training.epochs - qat_epochs) * phase_seconds["float"] + qat_epochs * phase_seconds["qat"]) / (
        training.epochs
    )
    macs = training_macs(config.student, len(intents), len(tags), tokens, examples)
    return {
        "trainer_examples_per_s": examples / seconds,
        "trainer_mac_per_s": macs / seconds,
        "trainer_float_examples_per_s": examples / phase_seconds["float"],
        "trainer_qat_examples_per_s": examples / phase_seconds["qat"],
        "trainer_quantization_aware_epochs": f"{qat_epochs} of {training.epochs}",
        "trainer_bfloat16_matmuls": bfloat16,
        "trainer_mac_per_example": macs / examples,
        "trainer_tokens_per_example": tokens / examples,
        "trainer_padded_tokens_per_example": padded / examples,
        "trainer_steps": steps,
        "trainer_batch_size": training.batch_size,
    }


# ------------------------------------------------------------------ inputs
@dataclass
class Inputs:
    """Where each input comes from; `*_source` say it in words for the JSON."""

    dataset_dir: str
    soft_label_dir: str
    intents: List[str]
    tags: List[str]
    student_dir: str
    teacher_dir: str
    dataset_source: str
    soft_label_source: str
    student_source: str
    teacher_source: str


def find_run(config: Config, run: str) -> Optional[Run]:
    """The pipeline run to take inputs from (`none`: none), or None when there is none."""
    if run == "none":
        return None
    try:
        return read_run(run_paths(config).metadata_path, config.project.name, run)
    except RunStoreError as exc:
        print(f"bench.speed: no pipeline run to read ({exc}); making every input here", file=sys.stderr)
        return None


def make_dataset_dir(config: Config, output_dir: str) -> str:
    """The dataset job (`beam_jobs.build_dataset`) with the config's `data` section."""
    from beam_jobs import build_dataset

    config_path = os.path.join(output_dir, "pipeline.yaml")
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config.to_dict(), f)  # JSON is YAML
    dataset = os.path.join(output_dir, "dataset")
    build_dataset.run(["--config", config_path, "--output_dir", dataset], save_main_session=False)
    return dataset


def synthetic_soft_labels(dataset_dir: str, output_dir: str, seed: int) -> Tuple[str, List[str], List[str]]:
    """The dataset's train split with random teacher logits in the soft-label layout, and its
    label vocabularies (`schemas.features.sorted_vocabularies`)."""
    rows = [decode(r) for r in read_examples(dataset_dir, TRAIN)]
    intents, tags = sorted_vocabularies(
        (r[INTENT][0] for r in rows), (span[2] for r in rows for span in bio_spans(r[SLOT_TAGS]))
    )
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        os.makedirs(split_dir(output_dir, split), exist_ok=True)
    path = os.path.join(split_dir(output_dir, TRAIN), "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, "GZIP") as writer:
        for row in rows:
            row[TEACHER_INTENT_LOGITS] = rng.normal(size=len(intents)).astype(np.float32).tolist()
            row[TEACHER_SLOT_LOGITS] = rng.normal(size=len(row[TOKENS]) * len(tags)).astype(np.float32).tolist()
            row[AUGMENTED], row[AUG_METHOD] = 0, ""
            writer.write(encode(row))
    return output_dir, intents, tags


def fresh_student(config: Config, intents: Sequence[str], tags: Sequence[str], texts: Sequence[str], path: str) -> str:
    """A freshly initialised student exported as the Trainer exports one (SavedModel + int8
    TFLite calibrated on `texts`); latency does not depend on the weights' values."""
    from pqrnn.export import export_saved_model, export_tflite_int8
    from pqrnn.model import build_student
    from pqrnn.projection import Projection
    from schemas.features import TFLITE_DIR, TFLITE_FILE
    from tokenization import tf_ops

    model = build_student(config.student, len(intents), len(tags))
    export_saved_model(model, intents, tags, path)
    projection = Projection.from_config(config.student)
    calibration = [projection(tf_ops.tokenize(tf.constant([t]))).numpy() for t in texts[:200]]
    export_tflite_int8(model, calibration, os.path.join(path, TFLITE_DIR, TFLITE_FILE))
    return path


def base_teacher(config: Config, intents: Sequence[str], tags: Sequence[str], path: str) -> str:
    """The configured base teacher (offline cache) with freshly initialised heads."""
    from teacher.bases import resolve_base
    from teacher.model import JointTeacher, load_tokenizer

    base = resolve_base(config.teacher.base, config.teacher.cache_dir)
    JointTeacher.from_base(base, intents, tags).save_pretrained(path)
    load_tokenizer(base).save_pretrained(path)
    return path


def gather_inputs(config: Config, run: Optional[Run], workdir: str) -> Inputs:
    """Each input from `run` where it has it, else made in `workdir`."""
    from tfx.utils import path_utils

    run_name = f"pipeline run {run.id}" if run else ""
    dataset = run.artifact("DatasetGen", "examples") if run else None
    if dataset is not None:
        dataset_dir, dataset_source = dataset.uri, f"{run_name} (DatasetGen)"
    else:
        dataset_dir, dataset_source = make_dataset_dir(config, workdir), "the dataset job, run here on the config"
    soft_labels = run.artifact("TeacherInference", "soft_label_examples") if run else None
    labels = (read_json(os.path.join(soft_labels.uri, SUMMARY_FILE)) or {}).get("labels") if soft_labels else None
    if soft_labels is not None and labels:
        soft_label_dir, intents, tags = soft_labels.uri, labels["intents"], labels["slot_tags"]
        soft_label_source = f"{run_name} (TeacherInference)"
    else:
        soft_label_dir, intents, tags = synthetic_soft_labels(
            dataset_dir, os.path.join(workdir, "soft_labels"), config.project.seed
        )
        soft_label_source = "random teacher logits on the dataset's train split"
    model = run.student_model() if run else None
    if model is not None:
        student_dir = path_utils.serving_model_path(model.uri)
        student_source = f"{run_name} (Trainer model {model.uri})"
    else:
        texts = [decode(r)[TEXT][0] for r in read_examples(dataset_dir, EVAL)[:200]]
        student_dir = fresh_student(config, intents, tags, texts, os.path.join(workdir, "student"))
        student_source = "a freshly initialised (untrained) student from the config"
    teacher = run.teacher_model() if run else None
    if teacher is not None:
        teacher_dir, teacher_source = teacher.uri, f"{run_name} (fine-tuned teacher {teacher.uri})"
    else:
        teacher_dir = base_teacher(config, intents, tags, os.path.join(workdir, "teacher"))
        teacher_source = f"the base teacher {config.teacher.base} with fresh heads"
    return Inputs(
        dataset_dir,
        soft_label_dir,
        list(intents),
        list(tags),
        student_dir,
        teacher_dir,
        dataset_source,
        soft_label_source,
        student_source,
        teacher_source,
    )


# ------------------------------------------------------------------ the whole measurement
def measure_all(
    config: Config, run: Optional[Run], teacher_rows: int, train_steps: int, queries: int, batch_size: int
) -> Dict[str, Any]:
    """Every figure of the module docstring, measured now on this machine."""
    import torch

    from bench.serving_speed import measure as serving_runtimes
    from bench.teacher_inference_benchmark import measure as teacher_inference

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as workdir:
        inputs = gather_inputs(config, run, workdir)
        rows = [decode(r) for r in read_examples(inputs.dataset_dir, EVAL)[: 2 * queries + 100]]
        texts, token_lists = [r[TEXT][0] for r in rows], [r[TOKENS] for r in rows]
        student = fast_student_latency(inputs.student_dir, texts, queries)
        runtimes = serving_runtimes(inputs.student_dir, texts, queries)
        teacher = teacher_latency(inputs.teacher_dir, config.teacher.inference.max_length, token_lists, queries)
        trainer = trainer_throughput(
            config,
            split_file_pattern(inputs.soft_label_dir, TRAIN),
            inputs.intents,
            inputs.tags,
            train_steps,
            warmup=max(train_steps // 3, 5),
        )
        peak = peak_mac_per_s()
        ti = teacher_inference(config, inputs.teacher_dir, inputs.dataset_dir, teacher_rows, batch_size)
    return {
        "trainer_examples_per_s": trainer["trainer_examples_per_s"],
        "trainer_mac_per_s": trainer["trainer_mac_per_s"],
        "peak_mac_per_s": peak,
        "trainer_utilisation": trainer["trainer_mac_per_s"] / peak,
        "student_latency_p50_ms": student["p50_ms"],
        "teacher_latency_p50_ms": teacher["p50_ms"],
        "latency_ratio": teacher["p50_ms"] / student["p50_ms"],
        "beam_rows_per_s": ti["beam"],
        "plain_rows_per_s": ti["plain"],
        "beam_plain_ratio": ti["ratio"],
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        **{k: v for k, v in trainer.items() if k not in ("trainer_examples_per_s", "trainer_mac_per_s")},
        "student_latency_p90_ms": student["p90_ms"],
        "student_latency_p50_ms_cold_cache": student["cold_cache_p50_ms"],
        **runtimes,
        "teacher_latency_p90_ms": teacher["p90_ms"],
        "latency_queries": queries,
        "beam_startup_s": ti["beam_startup_seconds"],
        "beam_rows_per_s_end_to_end": ti["beam_end_to_end"],
        "beam_plain_ratio_end_to_end": ti["ratio_end_to_end"],
        "plain_runs_rows_per_s": ti["plain_runs"],
        "beam_end_to_end_runs_rows_per_s": ti["beam_end_to_end_runs"],
        "teacher_rows": ti["rows"],
        "teacher_batch_size": ti["batch_size"],
        "teacher_inference_device": ti["device"],
        "run": run.id if run else None,
        "dataset_source": inputs.dataset_source,
        "soft_label_source": inputs.soft_label_source,
        "student_source": inputs.student_source,
        "teacher_source": inputs.teacher_source,
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - started, 1),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 or value >= 1e6 else f"{value:,.2f}"
    return str(value)


def table(result: Dict[str, Any]) -> str:
    """The JSON's figures as a markdown table (the issue's keys first)."""
    lines = ["| figure | value |", "|---|---:|"]
    lines += [f"| {key} | {_fmt(result[key])} |" for key in KEYS if key != "machine"]
    lines += [f"| {key} | {_fmt(value)} |" for key, value in result.items() if key not in KEYS]
    return f"Measured on {result['machine']}.\n\n" + "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--run", default="latest", help="pipeline run to take inputs from: latest, an id, or none")
    parser.add_argument("--output", default="bench/results/speed.json")
    parser.add_argument("--teacher-rows", type=int, default=5000, help="rows for Beam vs plain teacher inference")
    parser.add_argument("--batch-size", type=int, default=32, help="teacher-inference batch size (both paths)")
    parser.add_argument("--train-steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--latency-queries", type=int, default=200)
    args = parser.parse_args(argv)
    configure_cpu_threads()  # as a Trainer in its own process does, before TF starts
    config = load_config_or_exit(args.config, args.overrides)
    run = find_run(config, args.run)
    result = measure_all(config, run, args.teacher_rows, args.train_steps, args.latency_queries, args.batch_size)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(table(result))
    print(f"wrote {args.output} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
