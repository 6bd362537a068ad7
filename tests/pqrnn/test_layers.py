"""The student's building blocks: padding never enters batch statistics, quantised dense
layers stay close to float ones, attention pooling ignores padding."""

import numpy as np
import tensorflow as tf

from pqrnn.layers import MaskedBatchNorm, QuantDense, masked_attention_pool


def test_masked_batch_norm_ignores_padding():
    x = tf.constant([[[1.0], [3.0], [1000.0]], [[5.0], [7.0], [-1000.0]]])
    mask = tf.constant([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    norm = MaskedBatchNorm(momentum=0.0, epsilon=0.0)
    y = norm(x, mask, training=True)
    valid = tf.boolean_mask(y, mask > 0).numpy()
    np.testing.assert_allclose([valid.mean(), valid.std()], [0.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(norm.moving_mean.numpy(), [4.0])  # the mean of 1, 3, 5, 7
    np.testing.assert_allclose(norm(x, mask, training=False).numpy(), y.numpy(), atol=1e-4)


def test_quant_dense_is_close_to_its_float_version():
    x = tf.random.stateless_normal([4, 5, 16], seed=[1, 2])
    float_layer = QuantDense(8, quantize=False)
    quant_layer = QuantDense(8, quantize=True)
    expected = float_layer(x)
    quant_layer(x)
    quant_layer.set_weights(float_layer.get_weights() + quant_layer.get_weights()[2:])
    got = quant_layer(x, training=True)
    assert got.shape == (4, 5, 8)
    scale = float(tf.reduce_max(tf.abs(expected)))
    assert float(tf.reduce_max(tf.abs(got - expected))) < 0.05 * scale


def test_attention_pool_ignores_padding():
    values = tf.constant([[[1.0, 0.0], [0.0, 1.0], [100.0, 100.0]]])
    scores = tf.constant([[0.0, 0.0, 3.0]])  # the padded position has the largest score
    pooled = masked_attention_pool(scores, values, tf.constant([[1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(pooled.numpy(), [[0.5, 0.5]], atol=1e-6)


def test_batch_renorm_trains_with_the_moving_statistics_after_its_warm_up():
    rng = np.random.default_rng(0)
    plain = MaskedBatchNorm(momentum=0.9, renorm=False)
    renorm = MaskedBatchNorm(momentum=0.9, renorm=True)
    mask = tf.ones([16, 5])
    batches = [tf.constant(rng.normal(3.0, 2.0, [16, 5, 4]), tf.float32) for _ in range(renorm.renorm_warmup + 1)]
    for layer in (plain, renorm):
        for x in batches[:-1]:
            layer(x, mask, training=True)
    # Warmed up: a batch unlike the others is normalised like inference does (moving statistics)...
    odd = batches[-1] * 0.5 + 1.0
    expected = renorm(odd, mask, training=False).numpy()
    np.testing.assert_allclose(renorm(odd, mask, training=True).numpy(), expected, rtol=1e-4, atol=1e-4)
    # ...where plain batch norm uses the batch's own statistics.
    assert not np.allclose(plain(odd, mask, training=True).numpy(), plain(odd, mask, training=False).numpy(), atol=1e-2)
