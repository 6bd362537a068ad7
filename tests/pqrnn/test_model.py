"""Student model: closed-form size, masking invariance, fo-pooling scan, QAT switch."""

import numpy as np
import pytest
import tensorflow as tf

from pqrnn.config import ProjectionConfig, QRNNConfig, StudentConfig
from pqrnn.model import build_student, parameter_count
from pqrnn.projection import Projection
from pqrnn.qrnn import fo_pool
from pqrnn.quantization import fake_quant_weight


def small_config(**overrides) -> StudentConfig:
    config = StudentConfig(
        projection=ProjectionConfig(feature_size=64, add_bos_eos=True, distortion_probability=0.0),
        bottleneck_size=24,
        qrnn=QRNNConfig(state_size=16, num_layers=2, kernel_width=3, zoneout_probability=0.5),
        max_tokens=20,
        quantize=True,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.mark.parametrize(
    "config,intents,tags",
    [
        (small_config(), 7, 5),
        (StudentConfig(), 40, 61),  # the shipped default
        (StudentConfig(bottleneck_size=64, qrnn=QRNNConfig(state_size=96, num_layers=3, kernel_width=2)), 117, 3),
    ],
)
def test_parameter_count_matches_formula(config, intents, tags):
    model = build_student(config, intents, tags)
    counted = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert counted == parameter_count(config, intents, tags)


def test_default_size_is_in_the_papers_range():
    assert 1_000_000 <= parameter_count(StudentConfig(), 40, 61) <= 2_000_000


def test_fo_pool_scan_equals_sequential_recurrence():
    rng = np.random.default_rng(0)
    f = rng.uniform(size=(2, 11, 3)).astype(np.float32)
    u = rng.normal(size=(2, 11, 3)).astype(np.float32)
    for reverse in (False, True):
        c, expected = np.zeros((2, 3), np.float32), np.zeros_like(u)
        steps = range(10, -1, -1) if reverse else range(11)
        for t in steps:
            c = f[:, t] * c + u[:, t]
            expected[:, t] = c
        got = fo_pool(tf.constant(f), tf.constant(u), max_length=16, reverse=reverse).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        # Training's variant, traced with T unknown as in a length-bucketed fit: 4 of the 6
        # rounds that max_length=64 has, the other two skipped, same result.
        spec = tf.TensorSpec([None, None, 3], tf.float32)
        skipping = tf.function(
            lambda f, u, reverse=reverse: fo_pool(f, u, max_length=64, reverse=reverse, skip_idle_rounds=True),
            input_signature=[spec, spec],
        )
        np.testing.assert_allclose(skipping(f, u).numpy(), expected, rtol=1e-5, atol=1e-6)


def _train_a_little(model, projection):
    # A few training-mode calls move batch-norm statistics and quantizer ranges off their
    # initial values, so the invariance below is checked on non-trivial state.
    tokens = tf.ragged.constant([["turn", "on", "the", "lamp"], ["hi"], ["set", "it", "to", "20", "%", "now"]])
    for _ in range(3):
        model(projection(tokens), training=True)


@pytest.mark.parametrize("quantize", [True, False])
def test_padding_and_neighbours_never_change_outputs(quantize):
    config = small_config(quantize=quantize)
    model = build_student(config, 7, 5)
    projection = Projection.from_config(config)
    _train_a_little(model, projection)
    sentence = ["schalte", "das", "licht", "ein"]
    alone = model(projection(tf.ragged.constant([sentence])))
    n = len(sentence)
    base_features = projection(tf.ragged.constant([sentence]))
    for extra in (1, 5, 12):
        padded = tf.pad(base_features, [[0, 0], [0, extra], [0, 0]])
        out = model(padded)
        np.testing.assert_allclose(out["intent_logits"], alone["intent_logits"], atol=1e-5)
        np.testing.assert_allclose(out["slot_logits"][:, :n], alone["slot_logits"][:, :n], atol=1e-5)
    neighbours = [["a"], sentence, ["ein", "sehr", "langer", "satz", "mit", "vielen", "wörtern", "und", "mehr"], []]
    batched = model(projection(tf.ragged.constant(neighbours)))
    np.testing.assert_allclose(batched["intent_logits"][1], alone["intent_logits"][0], atol=1e-5)
    np.testing.assert_allclose(batched["slot_logits"][1, :n], alone["slot_logits"][0, :n], atol=1e-5)
    assert batched["slot_logits"].shape[1] == 9  # word-aligned: longest row's words


def test_quantization_switch_keeps_variables_and_quantizes_arithmetic():
    float_model = build_student(small_config(quantize=False), 7, 5)
    qat_model = build_student(small_config(quantize=True), 7, 5)
    assert [v.shape for v in float_model.trainable_variables] == [v.shape for v in qat_model.trainable_variables]
    for source, target in zip(float_model.trainable_variables, qat_model.trainable_variables):
        target.assign(source)
    features = Projection.from_config(small_config())(tf.ragged.constant([["lights", "off"], ["open", "the", "door"]]))
    exact = float_model(features)["intent_logits"].numpy()
    quantized = qat_model(features)["intent_logits"].numpy()
    assert not np.array_equal(exact, quantized)
    np.testing.assert_allclose(quantized, exact, atol=0.3)
    # Fake-quantized weights sit on a symmetric 255-level grid (TFLite's int8 weight grid).
    kernel = fake_quant_weight(qat_model.bottleneck.kernel, True).numpy()
    step = np.abs(qat_model.bottleneck.kernel.numpy()).max() / 127
    np.testing.assert_allclose(kernel / step, np.round(kernel / step), atol=1e-3)
