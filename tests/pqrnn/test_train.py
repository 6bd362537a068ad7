"""`pqrnn.train`: model selection keeps the best validation epoch; `train_student` exports."""

import os

import numpy as np
import tensorflow as tf

from pqrnn.config import DistillationConfig, TrainingConfig
from pqrnn.data import ExampleDecoder, make_dataset
from pqrnn.model import build_student
from pqrnn.projection import Projection
from pqrnn.train import (
    AverageWeights,
    KeepBestEpoch,
    QuantizeFromEpoch,
    StopOnPlateau,
    exact_match,
    native_bfloat16_cpu,
    quantization_aware_start,
    train_student,
)
from tests.pqrnn.test_training import CONFIG, write_toy_dataset


def _compiled_toy_student(tmp_path):
    """A compiled student of CONFIG and the toy dataset's train split (cached, unshuffled)."""
    tf.keras.utils.set_random_seed(0)
    _, intents, tags = write_toy_dataset(str(tmp_path))
    decoder = ExampleDecoder(Projection.from_config(CONFIG), intents, tags, soft_labels=True)
    data = make_dataset(os.path.join(tmp_path, "Split-train", "*.gz"), decoder, 25, training=False).cache()
    model = build_student(CONFIG, len(intents), len(tags))
    model.compile(tf.keras.optimizers.Adam(1e-2), distillation=DistillationConfig())
    return model, data


def test_the_best_epoch_is_kept_when_the_last_one_is_worse(tmp_path):
    model, data = _compiled_toy_student(tmp_path)
    epochs = 8
    # The last epoch's learning rate is absurd, so it wrecks what the earlier epochs learnt.
    wreck = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-2 if epoch < epochs - 1 else 30.0)
    keep = KeepBestEpoch(data)
    model.fit(data, epochs=epochs, callbacks=[wreck, keep], verbose=0)
    best = max(keep.scores)
    assert keep.scores[-1] < best, keep.scores
    assert keep.best_epoch == keep.scores.index(best) < epochs - 1
    assert exact_match(model, data) == best  # the model ends with the best epoch's weights


def test_epochs_are_scored_with_the_weight_average_and_train_on_with_the_weights_as_trained(tmp_path):
    model, data = _compiled_toy_student(tmp_path)
    kernel, decay = model.bottleneck.kernel, 0.9

    class Trained(tf.keras.callbacks.Callback):  # before AverageWeights: the weights as trained
        steps = []

        def on_train_begin(self, logs=None):
            self.steps.append(kernel.numpy())

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(kernel.numpy())

    class Seen(tf.keras.callbacks.Callback):  # after it: what selection scores, what the next epoch starts from
        scored, resumed = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.scored.append((len(Trained.steps), kernel.numpy()))

        def on_epoch_begin(self, epoch, logs=None):
            self.resumed.append(kernel.numpy())

    model.fit(data, epochs=2, callbacks=[Trained(), AverageWeights(decay), Seen()], verbose=0)
    for steps, scored in Seen.scored:
        average = Trained.steps[0]
        for n, weights in enumerate(Trained.steps[1:steps], start=1):
            d = min(decay, (1 + n) / (10 + n))
            average = d * average + (1 - d) * weights
        np.testing.assert_allclose(scored, average, rtol=1e-5, atol=1e-6)
        assert not np.allclose(scored, Trained.steps[steps - 1])
    first_epoch_steps = Seen.scored[0][0]
    np.testing.assert_array_equal(Seen.resumed[1], Trained.steps[first_epoch_steps - 1])


def test_train_student_exports_a_servable_student(tmp_path):
    tf.keras.utils.set_random_seed(0)
    _, intents, tags = write_toy_dataset(str(tmp_path / "data"))
    pattern = str(tmp_path / "data" / "Split-train" / "*.gz")
    serving = str(tmp_path / "serving")
    trained = train_student(
        CONFIG, DistillationConfig(), TrainingConfig(epochs=2, batch_size=25, weight_average_decay=0.9), 0,
        pattern, pattern, intents, tags, serving, str(tmp_path / "logs"),
    )  # fmt: skip
    assert len(trained.eval_exact_match) == 2 and trained.kept_epoch in (0, 1)
    served = tf.saved_model.load(serving).signatures["serving_default"](text=tf.constant(["turn on the light"]))
    assert served["intent"].numpy()[0].decode() in intents
    assert os.path.getsize(os.path.join(serving, "assets.extra", "student_int8.tflite")) > 0


def test_language_sampling_gives_a_small_language_more_of_each_epoch(tmp_path):
    from pqrnn.data import language_balanced
    from schemas.examples import encode

    records = [encode({"lang": "en", "text": f"e{i}"}) for i in range(90)] + [
        encode({"lang": "hi", "text": f"h{i}"}) for i in range(10)
    ]
    data = tf.data.Dataset.from_tensor_slices(records)

    def hindi_share(exponent):
        rows = list(language_balanced(data, exponent, seed=1).as_numpy_iterator())
        langs = [tf.train.Example.FromString(r).features.feature["lang"].bytes_list.value[0] for r in rows]
        return len(rows), langs.count(b"hi") / len(rows)

    rows, share = hindi_share(0.0)  # every language alike
    assert rows == 100 and 0.35 < share < 0.65
    assert 0.15 < hindi_share(0.5)[1] < 0.4  # sqrt(10) / (sqrt(10) + sqrt(90)) = 0.25


def test_intent_sampling_gives_a_rare_intent_more_of_each_epoch():
    from pqrnn.data import intent_balanced
    from schemas.examples import encode

    tf.keras.utils.set_random_seed(0)
    records = [encode({"teacher_intent": "on", "text": f"o{i}"}) for i in range(900)] + [
        encode({"teacher_intent": "off", "text": f"f{i}"}) for i in range(100)
    ]
    data = tf.data.Dataset.from_tensor_slices(records)

    def off_share(exponent):
        rows = list(intent_balanced(data, exponent, seed=None).as_numpy_iterator())
        intents = [tf.train.Example.FromString(r).features.feature["teacher_intent"].bytes_list.value[0] for r in rows]
        return len(rows), intents.count(b"off") / len(rows)

    rows, share = off_share(0.0)  # every intent alike: "off" rows twice each, "on" rows 5 in 9
    assert 900 < rows < 1100 and 0.45 < share < 0.55
    rows, share = off_share(0.5)  # sqrt(100) / (sqrt(100) + sqrt(900)) = 0.25
    assert 900 < rows < 1100 and 0.2 < share < 0.3
    assert off_share(1.0) == (1000, 0.1)  # the rows as they are


def test_quantization_aware_training_runs_only_in_the_last_epochs_and_selects_among_them(tmp_path):
    model, data = _compiled_toy_student(tmp_path)
    quantizer = model.bottleneck_quant  # a range learnt in training

    class Record(tf.keras.callbacks.Callback):
        phases, ranges = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.phases.append(quantizer.fake_quant_active)
            self.ranges.append((float(quantizer.range_min), float(quantizer.range_max)))

    start = quantization_aware_start(CONFIG, TrainingConfig(epochs=4, quantization_aware_epochs=2))
    keep = KeepBestEpoch(data, first_candidate=start)
    model.fit(data, epochs=4, callbacks=[QuantizeFromEpoch(start), keep, Record()], verbose=0)
    assert start == 2 and Record.phases == [False, False, True, True]
    # Float epochs leave the quantizer's range alone; the first quantized batch sets it.
    assert Record.ranges[0] == Record.ranges[1] == (-6.0, 6.0) != Record.ranges[2]
    assert len(keep.scores) == 4 and keep.best_epoch in (2, 3)


def test_a_plateau_ends_the_float_phase_early_then_the_quantization_aware_epochs_run(tmp_path):
    model, data = _compiled_toy_student(tmp_path)
    # Learning rate 0: no epoch can gain half the rows over the first.
    freeze = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.0)
    budget = TrainingConfig(epochs=10, quantization_aware_epochs=2, patience=2, min_delta=0.5)
    start = quantization_aware_start(CONFIG, budget)
    quantize, keep = QuantizeFromEpoch(start), KeepBestEpoch(data, first_candidate=start)
    stopping = StopOnPlateau(keep, quantize, qat_epochs=2, patience=2, min_delta=0.5)
    model.fit(data, epochs=budget.epochs, callbacks=[freeze, quantize, keep, stopping], verbose=0)
    # Epochs 2 and 3 gain nothing over epoch 1: quantization-aware epochs 4 and 5, then stop.
    report = stopping.report()
    assert (start, report["epochs_run"], report["quantization_aware_from_epoch"]) == (8, 5, 4)
    assert report["kept_epoch"] in (4, 5) and report["reason"] == "no validation gain of 0.5 in 2 epochs"
    assert exact_match(model, data) == keep.scores[report["kept_epoch"] - 1]


def test_without_a_float_phase_a_plateau_stops_training(tmp_path):
    model, data = _compiled_toy_student(tmp_path)
    model.set_fake_quant(False)
    freeze = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.0)
    quantize, keep = QuantizeFromEpoch(0), KeepBestEpoch(data)
    stopping = StopOnPlateau(keep, quantize, qat_epochs=0, patience=2, min_delta=0.5)
    model.fit(data, epochs=10, callbacks=[freeze, keep, stopping], verbose=0)
    assert stopping.report()["epochs_run"] == 3 and stopping.report()["quantization_aware_from_epoch"] is None


def test_when_quantization_aware_training_starts():
    from dataclasses import replace

    assert quantization_aware_start(CONFIG, TrainingConfig(epochs=8, quantization_aware_epochs=2)) == 6
    assert quantization_aware_start(CONFIG, TrainingConfig(epochs=8, quantization_aware_epochs=None)) == 0
    assert quantization_aware_start(CONFIG, TrainingConfig(epochs=3, quantization_aware_epochs=5)) == 0
    assert quantization_aware_start(replace(CONFIG, quantize=False), TrainingConfig(quantization_aware_epochs=2)) == 0


def test_bfloat16_convolutions_change_training_only(tmp_path):
    from dataclasses import replace

    tf.keras.utils.set_random_seed(0)
    model = build_student(replace(CONFIG, qrnn=replace(CONFIG.qrnn, zoneout_probability=0.0)), 5, 7)
    model.set_fake_quant(False)
    features = Projection.from_config(CONFIG)(tf.ragged.constant([["turn", "on", "the", "light"], ["stop"]]))
    weights = model.get_weights()  # a training call moves the batch-norm statistics: undo it
    inference = model(features, training=False)["intent_logits"]
    float32 = model(features, training=True)["intent_logits"]
    model.set_weights(weights)
    model.set_bfloat16_training(True)
    tf.debugging.assert_equal(model(features, training=False)["intent_logits"], inference)
    bfloat16 = model(features, training=True)["intent_logits"]
    assert bfloat16.dtype == tf.float32
    assert not bool(tf.reduce_all(bfloat16 == float32))  # computed differently ...
    scale = float(tf.reduce_max(tf.abs(float32)))
    assert float(tf.reduce_max(tf.abs(bfloat16 - float32))) < 0.05 * scale  # ... to within bf16 rounding


def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n")
    assert native_bfloat16_cpu(str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
    assert not native_bfloat16_cpu(str(cpuinfo))
    assert not native_bfloat16_cpu(str(tmp_path / "missing"))
