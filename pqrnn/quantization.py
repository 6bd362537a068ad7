"""8-bit fake quantization for quantization-aware training (QAT), in the reference's spirit.

Weights: per-tensor, symmetric range [-max|w|, max|w|] on the narrow int8 grid [-127, 127]
(0 is exact), straight-through gradients. Symmetric, unlike the reference's [min, max]
range, because TFLite's int8 kernels require weight zero points of 0. Activations: either a
fixed range (tanh/state [-1, 1], sigmoid/attention [0, 1]) or a range tracked with an
exponential moving average of batch min/max during training and frozen at inference. With
`enabled=False` every quantizer is the identity, so QAT is switched by
`StudentConfig.quantize` without changing the variables' layout.

A quantizing layer also has `fake_quant_active` (True by default): set to False, it runs in
float, in training and inference, while keeping its variables, so training can run most epochs
in float and only the last ones quantization-aware (`TrainingConfig.quantization_aware_epochs`).
"""

from __future__ import annotations

from typing import Optional, Tuple

import tensorflow as tf

NUM_BITS = 8


def fake_quant_weight(w: tf.Tensor, enabled: bool) -> tf.Tensor:
    if not enabled:
        return w
    bound = tf.maximum(tf.reduce_max(tf.abs(w)), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars(w, -bound, bound, num_bits=NUM_BITS, narrow_range=True)


class ActivationQuantizer(tf.keras.layers.Layer):
    """Fake-quantizes an activation to 8 bits over a fixed or moving-average range."""

    def __init__(
        self,
        enabled: bool,
        fixed_range: Optional[Tuple[float, float]] = None,
        momentum: float = 0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.enabled = enabled
        self.fixed_range = fixed_range
        self.momentum = momentum
        self.fake_quant_active = True

    def build(self, input_shape):
        if self.enabled and self.fixed_range is None:
            # A model that never trained still runs with a generic range; the first
            # training batch then sets the range outright instead of averaging with it.
            const = tf.keras.initializers.Constant
            stat = dict(
                shape=[],
                trainable=False,
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.MEAN,
            )  # per replica, averaged when read
            self.range_min = self.add_weight("range_min", initializer=const(-6.0), **stat)
            self.range_max = self.add_weight("range_max", initializer=const(6.0), **stat)
            self.seen = self.add_weight("seen", initializer=const(0.0), **stat)
        super().build(input_shape)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not (self.enabled and self.fake_quant_active):
            return x
        if self.fixed_range is not None:
            return tf.quantization.fake_quant_with_min_max_args(
                x, min=self.fixed_range[0], max=self.fixed_range[1], num_bits=NUM_BITS
            )
        if training:
            batch_min = tf.minimum(tf.reduce_min(tf.stop_gradient(x)), 0.0)
            batch_max = tf.maximum(tf.reduce_max(tf.stop_gradient(x)), 0.0)
            m = self.momentum * self.seen
            self.range_min.assign(m * self.range_min + (1.0 - m) * batch_min)
            self.range_max.assign(m * self.range_max + (1.0 - m) * batch_max)
            self.seen.assign(1.0)
        return tf.quantization.fake_quant_with_min_max_vars(x, self.range_min, self.range_max, num_bits=NUM_BITS)
