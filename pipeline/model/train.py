"""Trainer `run_fn`: distil the teacher's soft labels into the pQRNN student.

Labels: the soft-label Examples artifact carries the teacher's label vocabularies
(`intent_vocab.txt`, `slot_tag_vocab.txt`), the order of its logits; the student uses them.
Outputs under `serving_model_dir`: the SavedModel serving raw text (see `pqrnn.export`) and
the int8 TFLite encoder in `assets.extra/student_int8.tflite`. TensorBoard logs go to
`model_run_dir`. All GPUs are used when present (MirroredStrategy), else the CPU.
"""

from __future__ import annotations

import json
import os
from typing import List

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx

from pipeline.config import Config, config_from_json
from pqrnn.data import ExampleDecoder, make_dataset, read_vocabulary
from pqrnn.export import export_saved_model, export_tflite_int8
from pqrnn.model import build_student
from pqrnn.projection import Projection

TFLITE_FILE = "student_int8.tflite"
REPRESENTATIVE_BATCHES = 8


def examples_root(file_pattern: str) -> str:
    """`<artifact>/Split-train/*` -> `<artifact>`."""
    return os.path.dirname(os.path.dirname(file_pattern))


def strategy() -> tf.distribute.Strategy:
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()


def train_student(config: Config, train_pattern: str, eval_pattern: str, vocab_dir: str, serving_model_dir: str,
                  log_dir: str) -> tf.keras.Model:
    intents = read_vocabulary(os.path.join(vocab_dir, "intent_vocab.txt"))
    tags = read_vocabulary(os.path.join(vocab_dir, "slot_tag_vocab.txt"))
    projection = Projection.from_config(config.student)
    decoder = ExampleDecoder(projection, intents, tags, soft_labels=True)
    batch = config.training.batch_size
    train_ds = make_dataset(train_pattern, decoder, batch, training=True, seed=config.project.seed)
    eval_ds = make_dataset(eval_pattern, decoder, batch, training=False)

    with strategy().scope():
        model = build_student(config.student, len(intents), len(tags))
        schedule = tf.keras.optimizers.schedules.ExponentialDecay(
            config.training.learning_rate, config.training.lr_decay_steps, config.training.lr_decay_rate, staircase=True
        )
        model.compile(optimizer=tf.keras.optimizers.Adam(schedule), distillation=config.distillation)
    model.fit(
        train_ds,
        validation_data=eval_ds,
        epochs=config.training.epochs,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=log_dir)],
        verbose=2,
    )
    export_saved_model(model, intents, tags, serving_model_dir)
    representative: List[np.ndarray] = [features.numpy() for features, _ in eval_ds.take(REPRESENTATIVE_BATCHES)]
    export_tflite_int8(model, representative, os.path.join(serving_model_dir, "assets.extra", TFLITE_FILE))
    return model


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = config_from_json(json.dumps(fn_args.custom_config))
    train_student(
        config,
        train_pattern=fn_args.train_files[0],
        eval_pattern=fn_args.eval_files[0],
        vocab_dir=examples_root(fn_args.train_files[0]),
        serving_model_dir=fn_args.serving_model_dir,
        log_dir=fn_args.model_run_dir,
    )
