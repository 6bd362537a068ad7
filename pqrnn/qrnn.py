"""Bidirectional QRNN layer with fo-pooling computed as a parallel prefix scan."""

from __future__ import annotations

import functools

import tensorflow as tf

from pqrnn.layers import MaskedBatchNorm, bfloat16_matmul
from pqrnn.quantization import ActivationQuantizer, fake_quant_weight


def _shift(x: tf.Tensor, distance: int, fill: float, reverse: bool) -> tf.Tensor:
    """x[:, t - distance] (x[:, t + distance] if reverse) along time, `fill` beyond the ends."""
    if reverse:
        return tf.pad(x, [[0, 0], [0, distance], [0, 0]], constant_values=fill)[:, distance:]
    return tf.pad(x, [[0, 0], [distance, 0], [0, 0]], constant_values=fill)[:, :-distance]


def fo_pool(
    forget: tf.Tensor, update: tf.Tensor, max_length: int, reverse: bool = False, skip_idle_rounds: bool = False
) -> tf.Tensor:
    """c_t = f_t * c_{t-1} + u_t with c_{-1} = 0, for all t at once ([batch, T, H] each).

    A Hillis-Steele scan over the affine maps c -> f*c + u: ceil(log2(max_length)) rounds of
    shifts, multiplies and adds. No while loop, so it is fast on CPU and converts to plain
    TFLite builtins; T may be anything up to `max_length`.

    A round whose shift reaches past T changes nothing. `skip_idle_rounds` skips those with a
    `tf.cond` on the batch's T, for training, where T is unknown when tracing and short in
    most length buckets (2-3 of 6 rounds); TFLite builtins have no cond, so inference keeps
    every round.
    """
    length = tf.shape(forget)[1]
    a, b = forget, update
    distance = 1
    while distance < max_length:

        def scan_round(a=a, b=b, distance=distance):
            a_prev = _shift(a, distance, 1.0, reverse)
            b_prev = _shift(b, distance, 0.0, reverse)
            return a * a_prev, a * b_prev + b

        if skip_idle_rounds:
            a, b = tf.cond(distance < length, scan_round, lambda a=a, b=b: (a, b))
        else:
            a, b = scan_round()
        distance *= 2
    return b


class BiQRNN(tf.keras.layers.Layer):
    """One bidirectional QRNN layer, separate weights per direction, output [b, T, 2H].

    Per direction: a width-k causal convolution (left-padded forward, right-padded
    backward) gives z, f, o; masked batch norm; z = tanh, f = o = sigmoid; zoneout on f in
    training (f := 1 with probability `zoneout`, no rescaling); c_t = f c_{t-1} + (1-f) z;
    h_t = o c_t. At padding f = 1 and the update is 0, so state passes through, and h is
    zeroed there: padding never reaches a valid position.
    """

    def __init__(
        self,
        units: int,
        kernel_width: int,
        max_length: int,
        zoneout: float = 0.0,
        quantize: bool = False,
        bn_momentum: float = 0.99,
        bn_renorm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_width = kernel_width
        self.max_length = max_length
        self.zoneout = zoneout
        self.quantize = quantize
        self.fake_quant_active = True
        self.bfloat16_training = False  # see bfloat16_matmul
        self.norms = [MaskedBatchNorm(bn_momentum, renorm=bn_renorm, name=f"bn_{d}") for d in ("fwd", "bwd")]
        self.gate_quant = [ActivationQuantizer(quantize, name=f"gates_quant_{d}") for d in ("fwd", "bwd")]
        self.tanh_quant = ActivationQuantizer(quantize, (-1.0, 1.0), name="tanh_quant")
        self.sigmoid_quant = ActivationQuantizer(quantize, (0.0, 1.0), name="sigmoid_quant")

    def build(self, input_shape):
        in_dim = int(input_shape[-1])
        self.kernels = [
            self.add_weight(
                f"kernel_{d}", shape=[self.kernel_width, in_dim, 3 * self.units], initializer="glorot_uniform"
            )
            for d in ("fwd", "bwd")
        ]
        super().build(input_shape)

    def _direction(self, x, mask, index: int, training: bool):
        reverse = index == 1
        pad = [0, self.kernel_width - 1] if reverse else [self.kernel_width - 1, 0]
        x = tf.pad(x, [[0, 0], pad, [0, 0]])
        kernel = fake_quant_weight(self.kernels[index], self.quantize and self.fake_quant_active)
        conv = functools.partial(tf.nn.conv1d, stride=1, padding="VALID")
        gates = bfloat16_matmul(conv, x, kernel) if training and self.bfloat16_training else conv(x, kernel)
        gates = self.gate_quant[index](self.norms[index](gates, mask, training=training), training=training)
        z, f, o = tf.split(gates, 3, axis=-1)
        z = self.tanh_quant(tf.tanh(z))
        f = self.sigmoid_quant(tf.sigmoid(f))
        o = self.sigmoid_quant(tf.sigmoid(o))
        if training and self.zoneout > 0:
            f = tf.where(tf.random.uniform(tf.shape(f)) < self.zoneout, tf.ones_like(f), f)
        valid = tf.expand_dims(mask, -1)
        f = f * valid + (1.0 - valid)  # padding: keep the state, add nothing
        c = self.tanh_quant(fo_pool(f, (1.0 - f) * z, self.max_length, reverse, skip_idle_rounds=training))
        return self.tanh_quant(o * c) * valid

    def call(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.concat([self._direction(x, mask, 0, training), self._direction(x, mask, 1, training)], axis=-1)
