"""Distillation losses for the intent and slot heads.

Soft term (per head): T^2 * KL(softmax(scale * teacher / T) || softmax(student / T)), the
KL form so that its minimum is exactly 0, reached when student = scale * teacher; `scale`
is the paper's "teacher logit scaling", T the temperature. Slot terms average over valid
word positions only. Gold term (per head): cross-entropy on gold labels, counted only for
rows with `has_gold` = 1 (augmented rows carry teacher labels only) and labels >= 0 (-1
marks padding or a label unknown to the vocabulary). Total:
    intent_weight * (soft_intent + gold_weight * gold_intent)
  + slot_weight   * (soft_slot   + gold_weight * gold_slot)
Additive rather than (1-a)*soft + a*gold, so rows without gold keep the full soft weight.
Without teacher logits (a no-distillation baseline) only the gold terms remain.
"""

from __future__ import annotations

from typing import Dict, Optional

import tensorflow as tf


def soft_cross_entropy(student_logits, teacher_logits, temperature: float, teacher_scale: float):
    """Per-row T^2 * KL(teacher || student) over the last axis."""
    teacher_log_p = tf.nn.log_softmax(teacher_scale * teacher_logits / temperature, axis=-1)
    student_log_p = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(teacher_log_p) * (teacher_log_p - student_log_p), axis=-1)
    return temperature**2 * kl


def _masked_mean(values, weights):
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def _gold_cross_entropy(logits, labels, weights):
    valid = tf.cast(labels >= 0, logits.dtype) * weights
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
    return _masked_mean(ce, valid)


def distillation_loss(
    intent_logits: tf.Tensor,
    slot_logits: tf.Tensor,
    slot_mask: tf.Tensor,
    teacher_intent_logits: Optional[tf.Tensor] = None,
    teacher_slot_logits: Optional[tf.Tensor] = None,
    gold_intent: Optional[tf.Tensor] = None,
    gold_slots: Optional[tf.Tensor] = None,
    has_gold: Optional[tf.Tensor] = None,
    temperature: float = 1.0,
    slot_temperature: Optional[float] = None,
    teacher_logit_scale: float = 1.0,
    gold_weight: float = 0.5,
    intent_weight: float = 1.0,
    slot_weight: float = 1.0,
) -> Dict[str, tf.Tensor]:
    """Loss terms and their weighted total ("loss"), all scalars.

    Shapes: intent_logits [b, C], slot_logits [b, W, S], slot_mask [b, W] (1 at words),
    teacher_* like the student's, gold_intent [b] and gold_slots [b, W] int (-1 = none),
    has_gold [b] (1 = row carries gold labels; default all 1). `slot_temperature` (None:
    `temperature`) is the slot head's.
    """
    slot_mask = tf.cast(slot_mask, slot_logits.dtype)
    terms: Dict[str, tf.Tensor] = {}
    total = tf.constant(0.0)
    if teacher_intent_logits is not None:
        terms["intent_soft"] = tf.reduce_mean(
            soft_cross_entropy(intent_logits, teacher_intent_logits, temperature, teacher_logit_scale)
        )
        total += intent_weight * terms["intent_soft"]
    if teacher_slot_logits is not None:
        per_token = soft_cross_entropy(
            slot_logits, teacher_slot_logits, slot_temperature or temperature, teacher_logit_scale
        )
        terms["slot_soft"] = _masked_mean(per_token, slot_mask)
        total += slot_weight * terms["slot_soft"]
    if gold_intent is not None or gold_slots is not None:
        row_weight = tf.ones_like(intent_logits[:, 0]) if has_gold is None else tf.cast(has_gold, intent_logits.dtype)
        # With no teacher at all the gold terms are the whole loss, at full weight.
        weight = gold_weight if terms else 1.0
        if gold_intent is not None:
            terms["intent_gold"] = _gold_cross_entropy(intent_logits, gold_intent, row_weight)
            total += intent_weight * weight * terms["intent_gold"]
        if gold_slots is not None:
            token_weight = slot_mask * tf.expand_dims(row_weight, 1)
            terms["slot_gold"] = _gold_cross_entropy(slot_logits, gold_slots, token_weight)
            total += slot_weight * weight * terms["slot_gold"]
    if not terms:
        raise ValueError("distillation_loss needs teacher logits or gold labels")
    terms["loss"] = total
    return terms
