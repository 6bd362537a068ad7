"""Building blocks of the student: masked batch norm, quantization-aware dense, pooling."""

from __future__ import annotations

import math

import tensorflow as tf

from pqrnn.quantization import ActivationQuantizer, fake_quant_weight


def dense_last(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """x[..., in] @ kernel[in, out] as a 2-D matmul (a TFLite FULLY_CONNECTED)."""
    shape = tf.shape(x)
    y = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(y, tf.concat([shape[:-1], [kernel.shape[1]]], 0))


def bfloat16_matmul(matmul, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """matmul(x, kernel) with both in bfloat16, the result back in float32 (weights and
    everything else stay float32). On a CPU with native bf16 (AMX, AVX512-BF16) the student's
    convolutions train about 1.5x faster; 8-bit mantissas are ample for a model that ships
    in int8."""
    return tf.cast(matmul(tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16)), tf.float32)


class MaskedBatchNorm(tf.keras.layers.Layer):
    """Batch norm whose batch statistics cover valid (unmasked) positions only.

    Unlike the reference (which divides by E[x^2] and keeps near-last-batch averages) this
    uses the true masked variance and a standard exponential moving average, so inference
    normalisation is the usual one and padding never enters the statistics.

    `renorm` (batch renormalisation, Ioffe 2017): once the moving averages have warmed up
    (3 / (1 - momentum) batches), training normalises with them too, through the batch
    statistics corrected by r = sigma_B / sigma and d = (mu_B - mu) / sigma (clipped to
    [1/3, 3] and [-5, 5], no gradient). Length-bucketed batches differ from each other (a
    batch of long Thai rows is unlike one of short English rows): plain batch norm would
    train on per-batch statistics that inference, with the moving ones, never sees.
    """

    R_MAX, D_MAX = 3.0, 5.0

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, renorm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon
        self.renorm = renorm
        self.renorm_warmup = math.ceil(3.0 / (1.0 - momentum))

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.gamma = self.add_weight("gamma", shape=[dim], initializer="ones")
        self.beta = self.add_weight("beta", shape=[dim], initializer="zeros")
        # ON_READ + MEAN, as Keras' own BatchNormalization: per-replica updates under
        # MirroredStrategy, averaged when read.
        stat = dict(
            trainable=False, synchronization=tf.VariableSynchronization.ON_READ, aggregation=tf.VariableAggregation.MEAN
        )
        self.moving_mean = self.add_weight("moving_mean", shape=[dim], initializer="zeros", **stat)
        self.moving_variance = self.add_weight("moving_variance", shape=[dim], initializer="ones", **stat)
        if self.renorm:
            self.batches_seen = self.add_weight("batches_seen", shape=[], initializer="zeros", **stat)
        super().build(input_shape)

    def call(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not training:
            scale = self.gamma * tf.math.rsqrt(self.moving_variance + self.epsilon)
            return x * scale + (self.beta - self.moving_mean * scale)
        w = tf.expand_dims(mask, -1)
        axes = list(range(len(x.shape) - 1))
        count = tf.maximum(tf.reduce_sum(w), 1.0)
        mean = tf.reduce_sum(x * w, axes) / count
        variance = tf.reduce_sum(tf.square(x - mean) * w, axes) / count
        inv_std = tf.math.rsqrt(variance + self.epsilon)
        normalized = (x - mean) * inv_std
        if self.renorm:
            moving_inv_std = tf.math.rsqrt(self.moving_variance + self.epsilon)
            r = tf.clip_by_value(moving_inv_std / inv_std, 1.0 / self.R_MAX, self.R_MAX)
            d = tf.clip_by_value((mean - self.moving_mean) * moving_inv_std, -self.D_MAX, self.D_MAX)
            warm = tf.cast(self.batches_seen >= self.renorm_warmup, x.dtype)
            r = tf.stop_gradient(warm * r + (1.0 - warm))
            d = tf.stop_gradient(warm * d)
            normalized = normalized * r + d
            self.batches_seen.assign_add(1.0)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)
        return normalized * self.gamma + self.beta


class QuantDense(tf.keras.layers.Layer):
    """Dense layer with per-tensor 8-bit fake-quantized kernel and tracked output range."""

    def __init__(self, units: int, use_bias: bool = True, quantize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias
        self.quantize = quantize
        self.fake_quant_active = True
        self.bfloat16_training = False  # see bfloat16_matmul
        self.output_quantizer = ActivationQuantizer(quantize, name="output_quant") if use_bias else None

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", shape=[int(input_shape[-1]), self.units], initializer="glorot_uniform")
        self.bias = self.add_weight("bias", shape=[self.units], initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        kernel = fake_quant_weight(self.kernel, self.quantize and self.fake_quant_active)
        y = bfloat16_matmul(dense_last, x, kernel) if training and self.bfloat16_training else dense_last(x, kernel)
        if self.bias is None:
            return y  # a batch norm follows and quantizes after itself
        return self.output_quantizer(y + self.bias, training=training)


def masked_attention_pool(scores: tf.Tensor, values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Softmax-weighted sum of values [b, T, D] over valid positions; scores [b, T].

    Softmax over all positions, then zero padding and renormalise: equal to a masked
    softmax, without the huge negative constant that would wreck an int8 range.
    """
    weights = tf.nn.softmax(scores, axis=-1) * mask
    weights = weights / (tf.reduce_sum(weights, axis=-1, keepdims=True) + 1e-9)
    return tf.reduce_sum(tf.expand_dims(weights, -1) * values, axis=1)
