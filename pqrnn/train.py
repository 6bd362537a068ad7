"""Distil soft-label examples into a pQRNN student and export it (SavedModel + int8 TFLite).

The library's training entry point: file patterns, label vocabularies and config sections in,
an exported student out. It knows nothing of TFX; `models.train.run_fn` calls it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from pqrnn.config import DistillationConfig, StudentConfig, TrainingConfig
from pqrnn.data import ExampleDecoder, batches_per_pass, make_dataset
from pqrnn.decoding import bio_decode
from pqrnn.export import export_saved_model, export_tflite_int8
from pqrnn.model import build_student
from pqrnn.projection import Projection
from schemas.features import STUDENT_STOPPING_FILE, TFLITE_DIR, TFLITE_FILE

REPRESENTATIVE_BATCHES = 8
logger = logging.getLogger(__name__)


@dataclass
class TrainedStudent:
    """What `train_student` returns: the model with the kept epoch's weights, every epoch's
    eval exact match, the kept epoch (0-based) and where and why training stopped."""

    model: tf.keras.Model
    eval_exact_match: List[float]
    kept_epoch: int
    stopped: Dict[str, Any]


def exact_match(model: tf.keras.Model, dataset: tf.data.Dataset, tags: Optional[Sequence[str]] = None) -> float:
    """Share of gold-labelled rows whose intent and every word's slot tag the model gets right;
    with the tag vocabulary `tags`, slot tags decoded under the BIO rule as the SavedModel
    serves them (`pqrnn.decoding`), else by per-word argmax."""
    right = total = 0.0
    for features, targets in dataset:
        out = model(features, training=False)
        intent_ok = tf.argmax(out["intent_logits"], -1) == targets["intent"]
        if tags is None:
            predicted = tf.argmax(out["slot_logits"], -1)
        else:
            lengths = tf.reduce_sum(tf.cast(targets["slot_mask"] > 0, tf.int32), -1)
            predicted = tf.cast(bio_decode(out["slot_logits"], lengths, tags), targets["slots"].dtype)
        slot_wrong = (predicted != tf.cast(targets["slots"], predicted.dtype)) & (targets["slot_mask"] > 0)
        row_ok = intent_ok & ~tf.reduce_any(slot_wrong, axis=-1)
        gold = targets["has_gold"] > 0
        right += float(tf.reduce_sum(tf.cast(row_ok & gold, tf.float32)))
        total += float(tf.reduce_sum(tf.cast(gold, tf.float32)))
    return right / total if total else 0.0


class KeepBestEpoch(tf.keras.callbacks.Callback):
    """Model selection on the validation split: after each epoch, the student's exact match
    on `dataset` (against gold labels); training ends with the weights of the best epoch
    from `first_candidate` on (earlier epochs, trained in float before quantization-aware
    training, are scored and logged but not what the int8 export should be made from).

    On a fixed split the teacher's exact match is a constant, so the best student exact match
    is also the best fraction of teacher (exact match), the headline."""

    def __init__(self, dataset: tf.data.Dataset, first_candidate: int = 0, tags: Optional[Sequence[str]] = None):
        super().__init__()
        self.dataset = dataset
        self.tags = tags
        self.first_candidate = first_candidate
        self.scores: List[float] = []
        self.best_epoch = -1
        self._best_weights: Optional[List[np.ndarray]] = None

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch_started = time.time()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        score = exact_match(self.model, self.dataset, self.tags)
        self.scores.append(score)
        candidate = epoch >= self.first_candidate
        # `progress`: a line the pipeline's console shows (see pipeline/console.py).
        logger.info(
            "epoch %d/%s: validation exact match %.4f (%.0f s)%s",
            epoch + 1,
            self.params.get("epochs", "?"),
            score,
            time.time() - self._epoch_started,
            "" if candidate else " float, before quantization-aware training",
            extra={"progress": True},
        )
        if logs is not None:
            logs["val_exact_match"] = score  # TensorBoard and the History see it too
        if candidate and (self.best_epoch < 0 or score > self.scores[self.best_epoch]):
            self.best_epoch, self._best_weights = epoch, self.model.get_weights()

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
            logger.info(
                "kept epoch %d of %d: validation exact match %.4f (last epoch %.4f)",
                self.best_epoch + 1,
                len(self.scores),
                self.scores[self.best_epoch],
                self.scores[-1],
                extra={"progress": True},
            )


class AverageWeights(tf.keras.callbacks.Callback):
    """An exponential moving average of the trainable weights, updated after every step, is
    what each epoch is scored and kept with: it sits in the model from the end of an epoch to
    the start of the next (the callbacks after this one score and copy it), and the weights as
    trained go back in for the next epoch's steps. Batch-norm statistics and quantization
    ranges stay as trained (they are moving averages already).

    The decay ramps up as (1 + n) / (10 + n) over the first steps n (as
    `tf.train.ExponentialMovingAverage` with `num_updates`), so early epochs are not
    dominated by the initial weights."""

    def __init__(self, decay: float):
        super().__init__()
        self.decay = decay

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        weights = self.model.trainable_variables
        self._average = [tf.Variable(w, trainable=False) for w in weights]
        self._trained = [tf.Variable(w, trainable=False) for w in weights]
        self._updates = tf.Variable(0.0, trainable=False)
        self._swapped = False

        @tf.function
        def update() -> None:
            self._updates.assign_add(1.0)
            decay = tf.minimum(self.decay, (1.0 + self._updates) / (10.0 + self._updates))
            for average, w in zip(self._average, weights):
                average.assign(decay * average + (1.0 - decay) * tf.cast(w, average.dtype))

        self._update = update

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        self._update()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        for trained, average, w in zip(self._trained, self._average, self.model.trainable_variables):
            trained.assign(w)
            w.assign(average)
        self._swapped = True

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self._swapped:
            for trained, w in zip(self._trained, self.model.trainable_variables):
                w.assign(trained)
            self._swapped = False


class QuantizeFromEpoch(tf.keras.callbacks.Callback):
    """Float training until epoch `start` (0-based), 8-bit fake quantization from then on.

    Fake quantization costs 10-25 % of a training step; the weights need it only to adapt to
    the int8 grid, which the last epochs do. The train and test functions are traced again with the new flag."""

    def __init__(self, start: int):
        super().__init__()
        self.start = start

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self._switch(self.start <= 0)

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        if epoch == self.start and epoch > 0:
            self._switch(True)

    def _switch(self, active: bool) -> None:
        self.model.set_fake_quant(active)
        # fit calls self.train_function each step: a fresh trace takes effect at once.
        self.model.train_function = self.model.make_train_function(force=True)
        self.model.test_function = None


_BUDGET_REASON = "the epoch budget (training.epochs)"


class StopOnPlateau(tf.keras.callbacks.Callback):
    """Stops on the validation exact match that `selection` records (Keras' `EarlyStopping`):
    when no epoch of the last `patience` has gained `min_delta` over the best before them, the
    float phase ends and the `qat_epochs` quantization-aware epochs start at the next epoch
    (`quantize`, `selection` follow); without a float phase training stops at once. Runs after
    `selection` in the callback list. `epochs` is the budget: at most that many epochs."""

    def __init__(
        self,
        selection: KeepBestEpoch,
        quantize: QuantizeFromEpoch,
        qat_epochs: int,
        patience: int,
        min_delta: float,
    ):
        super().__init__()
        self.selection, self.quantize = selection, quantize
        self.qat_epochs, self.patience, self.min_delta = qat_epochs, patience, min_delta
        self.reason = ""

    def _plateau_reason(self) -> str:
        return f"no validation gain of {self.min_delta} in {self.patience} epochs"

    def _plateau(self) -> bool:
        scores = self.selection.scores
        if len(scores) <= self.patience:
            return False
        return max(scores[-self.patience :]) < max(scores[: -self.patience]) + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        float_phase = epoch + 1 < self.quantize.start
        if float_phase and self._plateau():
            self.quantize.start = self.selection.first_candidate = epoch + 1
            self.reason = self._plateau_reason()
        elif not float_phase and self.quantize.start == 0 and self._plateau():
            self.reason = self._plateau_reason()
            self.model.stop_training = True
        if self.quantize.start > 0 and epoch + 1 >= self.quantize.start + self.qat_epochs:
            self.model.stop_training = True
        if self.model.stop_training and not self.reason:
            self.reason = _BUDGET_REASON

    def report(self) -> Dict[str, Any]:
        """Where and why training stopped, for the run's review."""
        scores = self.selection.scores
        return {
            "epochs_run": len(scores),
            "kept_epoch": self.selection.best_epoch + 1,
            "quantization_aware_from_epoch": self.quantize.start + 1 if self.quantize.start > 0 else None,
            "reason": self.reason or _BUDGET_REASON,
            "eval_exact_match_per_epoch": scores,
        }


def strategy() -> tf.distribute.Strategy:
    """All GPUs when present (MirroredStrategy), else the default (CPU) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()


def student_cpu_threads(cores: Optional[int] = None) -> Tuple[int, int]:
    """(intra-op, inter-op) TensorFlow threads for training the student on CPU.

    Its ops are small (a batch is ~1,400 tokens) and each QRNN layer has two independent
    directions: two op streams on half the cores each beat every op split over all cores
    (~1.2x on 2 cores, measured by `bench.trainer_side_by_side`)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // 2), 2


def configure_cpu_threads() -> bool:
    """Apply `student_cpu_threads` if TensorFlow has not started yet in this process (a
    Trainer in its own process: a Kubeflow or Vertex task, kfp-local); False if it had.

    Only in a process that trains the student: the setting is process-wide, and in a
    LocalDagRunner run PyTorch (the teacher's stages) shares the process; a small PyTorch
    test ran single-threaded after it was set."""
    intra, inter = student_cpu_threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        return False
    return True


def native_bfloat16_cpu(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this machine's CPU computes bfloat16 natively (AMX or AVX512-BF16 in its flags);
    elsewhere oneDNN emulates it, slower than float32."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_bfloat16_matmuls(training: TrainingConfig) -> bool:
    """`training.bfloat16_matmuls`, or when unset: a native-bf16 CPU and no GPU."""
    if training.bfloat16_matmuls is not None:
        return training.bfloat16_matmuls
    return not tf.config.list_logical_devices("GPU") and native_bfloat16_cpu()


def quantization_aware_start(student: StudentConfig, training: TrainingConfig) -> int:
    """The first (0-based) epoch that trains with fake quantization; 0 when it is off (nothing
    to switch) or set for every epoch."""
    last = training.quantization_aware_epochs
    if not student.quantize or last is None:
        return 0
    return max(training.epochs - last, 0)


def train_student(
    student: StudentConfig,
    distillation: DistillationConfig,
    training: TrainingConfig,
    seed: int,
    train_pattern: str,
    eval_pattern: str,
    intents: Sequence[str],
    tags: Sequence[str],
    serving_model_dir: str,
    log_dir: str,
) -> TrainedStudent:
    """Train on `train_pattern` (in float until validation exact match on `eval_pattern` stops
    improving or the budget leaves only `training.quantization_aware_epochs`, then that many
    quantization-aware epochs, see `StopOnPlateau`), keep the weights of the quantization-aware
    epoch with the best validation exact match (`KeepBestEpoch`), export to
    `serving_model_dir` (the int8 TFLite encoder in `assets.extra/`); TensorBoard logs and
    `STUDENT_STOPPING_FILE` (where and why training stopped) go to `log_dir`."""
    if not configure_cpu_threads():
        logger.info(
            "TensorFlow already started: %d intra-op, %d inter-op threads (the student trains fastest with %d, %d)",
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
            *student_cpu_threads(),
        )
    projection = Projection.from_config(student)
    decoder = ExampleDecoder(projection, intents, tags, soft_labels=True)
    batch = training.batch_size
    train_ds = make_dataset(
        train_pattern,
        decoder,
        batch,
        training=True,
        seed=seed,
        language_exponent=training.language_sampling_exponent,
        intent_exponent=training.intent_sampling_exponent,
    )
    eval_ds = make_dataset(eval_pattern, decoder, batch, training=False)

    qat_start = quantization_aware_start(student, training)
    with strategy().scope():
        model = build_student(student, len(intents), len(tags))
        model.set_bfloat16_training(use_bfloat16_matmuls(training))
        schedule = tf.keras.optimizers.schedules.ExponentialDecay(
            training.learning_rate, training.lr_decay_steps, training.lr_decay_rate, staircase=True
        )
        model.compile(optimizer=tf.keras.optimizers.Adam(schedule), distillation=distillation)
    selection = KeepBestEpoch(eval_ds, first_candidate=qat_start, tags=tags)
    quantize = QuantizeFromEpoch(qat_start)
    stopping = StopOnPlateau(selection, quantize, training.epochs - qat_start, training.patience, training.min_delta)
    # Weight averaging first: the epoch's score and the kept weights are the average's.
    averaging = [AverageWeights(training.weight_average_decay)] if training.weight_average_decay > 0 else []
    # One iterator for every epoch: Keras otherwise replaces it each epoch, and destroying the
    # old one waited for tf.data's threads, up to ~50 s an epoch inside the pipeline's process.
    model.fit(
        train_ds.repeat(),
        steps_per_epoch=batches_per_pass(train_pattern, batch, projection.max_words),
        validation_data=eval_ds,
        epochs=training.epochs,
        # KeepBestEpoch before StopOnPlateau (which reads its scores) and TensorBoard (which
        # writes the val_exact_match it adds to the logs).
        callbacks=[quantize, *averaging, selection, stopping, tf.keras.callbacks.TensorBoard(log_dir=log_dir)],
        verbose=2,
    )
    stopped = stopping.report()
    tf.io.gfile.makedirs(log_dir)
    with tf.io.gfile.GFile(os.path.join(log_dir, STUDENT_STOPPING_FILE), "w") as f:
        f.write(json.dumps(stopped, indent=2))
    export_saved_model(model, intents, tags, serving_model_dir)
    representative: List[np.ndarray] = [features.numpy() for features, _ in eval_ds.take(REPRESENTATIVE_BATCHES)]
    export_tflite_int8(model, representative, os.path.join(serving_model_dir, TFLITE_DIR, TFLITE_FILE))
    return TrainedStudent(model, selection.scores, selection.best_epoch, stopped)
