"""The pQRNN student as a Keras (tf_keras) model on projected features."""

from __future__ import annotations

from typing import Dict, Optional

import tensorflow as tf

from pqrnn.config import DistillationConfig, StudentConfig
from pqrnn.layers import MaskedBatchNorm, QuantDense, masked_attention_pool
from pqrnn.losses import distillation_loss
from pqrnn.projection import token_mask
from pqrnn.qrnn import BiQRNN
from pqrnn.quantization import ActivationQuantizer

_TRACKED = ("loss", "intent_soft", "slot_soft", "intent_gold", "slot_gold", "intent_accuracy", "slot_accuracy")


class PQRNNStudent(tf.keras.Model):
    """features [b, T, B] (from `Projection`) -> {"intent_logits": [b, C], "slot_logits": [b, W, S]}.

    Slot logits are word-aligned: position i is word i (the BOS position is dropped and the
    last position, EOS of the longest row, too), so W = T - 2 with BOS/EOS, else W = T.

    `compile(optimizer, distillation=DistillationConfig)` + `fit(dataset)` train it on
    (features, targets) batches as made by `pqrnn.data`; targets is a dict with
    "slot_mask" and any of "teacher_intent_logits", "teacher_slot_logits", "intent",
    "slots", "has_gold" (see `pqrnn.losses.distillation_loss`).
    """

    def __init__(self, config: StudentConfig, num_intents: int, num_tags: int, **kwargs):
        super().__init__(**kwargs)
        self.student_config = config
        self.num_intents = num_intents
        self.num_tags = num_tags
        q = config.quantize
        momentum = config.batch_norm_momentum
        self.bottleneck = QuantDense(config.bottleneck_size, use_bias=False, quantize=q, name="bottleneck")
        self.bottleneck_norm = MaskedBatchNorm(momentum, renorm=config.batch_renorm, name="bottleneck_bn")
        self.bottleneck_quant = ActivationQuantizer(q, name="bottleneck_quant")
        qc = config.qrnn
        self.qrnn_layers = [
            BiQRNN(
                qc.state_size,
                qc.kernel_width,
                config.max_tokens,
                zoneout=qc.zoneout_probability ** (i + 1) if qc.zoneout_probability > 0 else 0.0,
                quantize=q,
                bn_momentum=momentum,
                bn_renorm=config.batch_renorm,
                name=f"qrnn_{i}",
            )
            for i in range(qc.num_layers)
        ]
        self.attention = QuantDense(1, quantize=q, name="attention")
        self.pool_quant = ActivationQuantizer(q, (-1.0, 1.0), name="pool_quant")
        self.intent_head = QuantDense(num_intents, quantize=q, name="intent_head")
        self.slot_head = QuantDense(num_tags, quantize=q, name="slot_head")
        self.distillation = DistillationConfig()
        self.trackers = {name: tf.keras.metrics.Mean(name=name) for name in _TRACKED}

    def call(self, features: tf.Tensor, training: bool = False) -> Dict[str, tf.Tensor]:
        mask = token_mask(features)
        valid = tf.expand_dims(mask, -1)
        x = self.bottleneck(features, training=training)
        x = tf.nn.relu(self.bottleneck_norm(x, mask, training=training)) * valid
        x = self.bottleneck_quant(x, training=training)
        for layer in self.qrnn_layers:
            x = layer(x, mask, training=training)
        scores = self.attention(x, training=training)[..., 0]
        pooled = self.pool_quant(masked_attention_pool(scores, x, mask))
        slot_logits = self.slot_head(x, training=training)
        if self.student_config.projection.add_bos_eos:
            slot_logits = slot_logits[:, 1:-1]
        return {"intent_logits": self.intent_head(pooled, training=training), "slot_logits": slot_logits}

    def set_fake_quant(self, active: bool) -> None:
        """Fake quantization on or off in every quantizing layer (a float phase, then QAT); the
        variables stay as they are. Call before (re)tracing: the flag is read when tracing."""
        for module in self.submodules:
            if hasattr(module, "fake_quant_active"):
                module.fake_quant_active = active

    def set_bfloat16_training(self, enabled: bool) -> None:
        """Training-time convolutions and dense layers in bfloat16 (`pqrnn.layers.bfloat16_matmul`);
        inference and export stay float32."""
        for module in self.submodules:
            if hasattr(module, "bfloat16_training"):
                module.bfloat16_training = enabled

    # ------------------------------------------------------------------ training

    def compile(self, optimizer="adam", distillation: Optional[DistillationConfig] = None, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.distillation = distillation or DistillationConfig()

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _loss_terms(self, outputs, targets):
        d = self.distillation
        return distillation_loss(
            outputs["intent_logits"],
            outputs["slot_logits"],
            targets["slot_mask"],
            teacher_intent_logits=targets.get("teacher_intent_logits"),
            teacher_slot_logits=targets.get("teacher_slot_logits"),
            gold_intent=targets.get("intent"),
            gold_slots=targets.get("slots"),
            has_gold=targets.get("has_gold"),
            temperature=d.temperature,
            slot_temperature=d.slot_temperature,
            teacher_logit_scale=d.teacher_logit_scale,
            gold_weight=d.gold_weight,
            intent_weight=d.intent_weight,
            slot_weight=d.slot_weight,
        )

    def _update_trackers(self, outputs, targets, terms):
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        if "intent" in targets:
            gold = targets["intent"]
            hit = tf.cast(tf.equal(tf.argmax(outputs["intent_logits"], -1, output_type=gold.dtype), gold), tf.float32)
            self.trackers["intent_accuracy"].update_state(hit, tf.cast(gold >= 0, tf.float32))
        if "slots" in targets:
            gold = targets["slots"]
            hit = tf.cast(tf.equal(tf.argmax(outputs["slot_logits"], -1, output_type=gold.dtype), gold), tf.float32)
            weight = tf.cast(gold >= 0, tf.float32) * tf.cast(targets["slot_mask"], tf.float32)
            self.trackers["slot_accuracy"].update_state(hit, weight)
        return {name: t.result() for name, t in self.trackers.items() if name in terms or name.endswith("accuracy")}

    def train_step(self, data):
        features, targets = data
        with tf.GradientTape() as tape:
            outputs = self(features, training=True)
            terms = self._loss_terms(outputs, targets)
            # Replica gradients are summed under a distribution strategy; keep their scale.
            scaled = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update_trackers(outputs, targets, terms)

    def test_step(self, data):
        features, targets = data
        outputs = self(features, training=False)
        return self._update_trackers(outputs, targets, self._loss_terms(outputs, targets))


def build_student(config: StudentConfig, num_intents: int, num_tags: int) -> PQRNNStudent:
    """A built (variables created) student for `config` and the label vocabulary sizes."""
    model = PQRNNStudent(config, num_intents, num_tags)
    model(tf.zeros([1, 3, config.projection.feature_size]))
    return model


def parameter_count(config: StudentConfig, num_intents: int, num_tags: int) -> int:
    """Trainable parameters in closed form (see DESIGN.md)."""
    b, d = config.projection.feature_size, config.bottleneck_size
    h, k, layers = config.qrnn.state_size, config.qrnn.kernel_width, config.qrnn.num_layers
    total = b * d + 2 * d  # bottleneck (no bias: batch norm follows) + its gamma, beta
    for i in range(layers):
        fan_in = d if i == 0 else 2 * h
        total += 2 * (k * fan_in * 3 * h + 2 * 3 * h)  # 2 directions x (z,f,o conv + BN)
    total += 2 * h + 1  # attention score
    total += (2 * h + 1) * num_intents + (2 * h + 1) * num_tags  # heads
    return total
