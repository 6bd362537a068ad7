"""Trainer throughput of this checkout against another commit's, side by side on this machine.

    git worktree add /tmp/baseline <commit>
    .venv/bin/python -m bench.trainer_side_by_side --baseline /tmp/baseline
        [--config pipeline.yaml] [--run latest|ID] [--epochs N] [--baseline-epochs 2]

Each checkout, in its own process and one after the other, trains its own default student
(its `pipeline.yaml`) with its own `pqrnn` input pipeline and model (`make_dataset` +
`build_student` + `model.fit`, as its Trainer does, validation left out) on the same soft
labels: the latest pipeline run's TeacherInference output. This checkout runs its Trainer's
whole schedule (`training.epochs`, float then the quantization-aware last epochs, bf16 where
its config says so; `--epochs` to change it); the baseline, whose epochs are all alike (fake
quantization throughout), runs `--baseline-epochs`. Epoch 1 includes tracing, so the figure
compared is the examples/s of epochs 2 to the last. Our machines differ ~3x in speed, so only
the ratio of the two, measured in one run, means anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

from bench.speed import find_run
from config_core import add_config_arguments
from pipeline.config import load_config_or_exit
from review.artifacts import SUMMARY_FILE, read_json
from runtime.timing import machine
from schemas.features import TRAIN, split_file_pattern

# Runs inside each checkout: only APIs both the baseline and this commit have.
CHILD = """
import json, sys, time
import tensorflow as tf
from pipeline.config import load_config
from pqrnn.data import ExampleDecoder, make_dataset
from pqrnn.model import build_student
from pqrnn.projection import Projection

pattern, intents, tags, epochs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
try:  # the Trainer's threads, where the checkout sets them
    from pqrnn.train import configure_cpu_threads
except ImportError:
    pass
else:
    configure_cpu_threads()
config = load_config("pipeline.yaml")
decoder = ExampleDecoder(Projection.from_config(config.student), intents, tags, soft_labels=True)
data = make_dataset(pattern, decoder, config.training.batch_size, training=True, seed=config.project.seed)
rows = sum(1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP"))
model = build_student(config.student, len(intents), len(tags))
model.compile(optimizer=tf.keras.optimizers.Adam(config.training.learning_rate), distillation=config.distillation)
callbacks = []
try:
    from pqrnn.train import QuantizeFromEpoch, quantization_aware_start, use_bfloat16_matmuls
except ImportError:  # a checkout from before the float phase: fake quantization in every epoch
    pass
else:
    import dataclasses

    training = dataclasses.replace(config.training, epochs=epochs)
    model.set_bfloat16_training(use_bfloat16_matmuls(training))
    callbacks.append(QuantizeFromEpoch(quantization_aware_start(config.student, training)))


class Timer(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        print(json.dumps({"epoch": epoch + 1, "seconds": seconds, "examples_per_s": rows / seconds}), flush=True)


model.fit(data, epochs=epochs, verbose=0, callbacks=callbacks + [Timer()])
"""


def epoch_throughput(checkout: str, pattern: str, intents: List[str], tags: List[str], epochs: int) -> Dict[str, Any]:
    """The child's per-epoch figures for one checkout, with its commit."""
    # The child inherits TF_USE_LEGACY_KERAS and friends from os.environ (bench/__init__.py).
    env = {**os.environ, "PYTHONPATH": checkout}
    command = [sys.executable, "-c", CHILD, pattern, json.dumps(intents), json.dumps(tags), str(epochs)]
    proc = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"training in {checkout} failed: {proc.stderr.strip().splitlines()[-1:]}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True, check=False
    ).stdout.strip()
    per_epoch = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {"checkout": checkout, "commit": commit or "?", "epochs": per_epoch}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trainer_side_by_side", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--baseline", required=True, help="a checkout of the commit to compare with")
    parser.add_argument("--run", default="latest", help="pipeline run whose soft labels both train on")
    parser.add_argument("--epochs", type=int, help="this checkout's epochs (default: its training.epochs)")
    parser.add_argument("--baseline-epochs", type=int, default=2)
    args = parser.parse_args(argv)
    config = load_config_or_exit(args.config, args.overrides)
    epochs = args.epochs or config.training.epochs
    if min(epochs, args.baseline_epochs) < 2:
        print("--epochs and --baseline-epochs must be >= 2 (epoch 1 includes tracing)", file=sys.stderr)
        return 2
    run = find_run(config, args.run)
    soft_labels = run.artifact("TeacherInference", "soft_label_examples") if run else None
    if soft_labels is None:
        print("no finished pipeline run with soft labels: run `make run` first", file=sys.stderr)
        return 2
    labels = read_json(os.path.join(soft_labels.uri, SUMMARY_FILE))["labels"]
    pattern = split_file_pattern(soft_labels.uri, TRAIN)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = [
        epoch_throughput(checkout, pattern, labels["intents"], labels["slot_tags"], checkout_epochs)
        for checkout, checkout_epochs in ((os.path.abspath(args.baseline), args.baseline_epochs), (here, epochs))
    ]
    print(f"{machine()}; soft labels {soft_labels.uri}")
    rates = []
    for result in results:
        timed = result["epochs"][1:]
        seconds = sum(epoch["seconds"] for epoch in timed)
        rates.append(sum(epoch["examples_per_s"] * epoch["seconds"] for epoch in timed) / seconds)
        per_epoch = ", ".join(f"{epoch['seconds']:.1f}" for epoch in result["epochs"])
        span = f"epochs 2-{len(result['epochs'])}; s per epoch: {per_epoch}"
        print(f"{result['commit']:>10}  {rates[-1]:8.1f} examples/s  ({span})")
    print(f"ratio this / baseline: {rates[1] / rates[0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
