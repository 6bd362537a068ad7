"""Distillation losses: minimum and zero gradient at scaled teacher logits, masks."""

import numpy as np
import pytest
import tensorflow as tf

from pqrnn.losses import distillation_loss

rng = np.random.default_rng(1)
TEACHER_INTENT = tf.constant(rng.normal(size=(4, 6)) * 3, tf.float32)
TEACHER_SLOTS = tf.constant(rng.normal(size=(4, 5, 7)) * 3, tf.float32)
SLOT_MASK = tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], tf.float32)


def _soft_loss(intent, slots, temperature, scale):
    return distillation_loss(
        intent, slots, SLOT_MASK, TEACHER_INTENT, TEACHER_SLOTS, temperature=temperature, teacher_logit_scale=scale
    )["loss"]


@pytest.mark.parametrize("temperature,scale", [(1.0, 1.0), (2.0, 1.0), (1.0, 0.5), (3.0, 2.0)])
def test_scaled_teacher_logits_are_the_minimum_with_zero_gradient(temperature, scale):
    intent = tf.Variable(scale * TEACHER_INTENT)
    slots = tf.Variable(scale * TEACHER_SLOTS)
    with tf.GradientTape() as tape:
        loss = _soft_loss(intent, slots, temperature, scale)
    grads = tape.gradient(loss, [intent, slots])
    assert abs(float(loss)) < 1e-5
    for g in grads:
        np.testing.assert_allclose(g.numpy(), 0.0, atol=1e-6)
    for _ in range(5):
        noisy_intent = intent + rng.normal(size=intent.shape).astype(np.float32)
        noisy_slots = slots + rng.normal(size=slots.shape).astype(np.float32)
        assert float(_soft_loss(noisy_intent, noisy_slots, temperature, scale)) > float(loss) + 1e-4


def test_the_slot_head_takes_its_own_temperature():
    intent = tf.constant(rng.normal(size=(4, 6)), tf.float32)
    slots = tf.constant(rng.normal(size=(4, 5, 7)), tf.float32)

    def terms(**temperatures):
        return distillation_loss(intent, slots, SLOT_MASK, TEACHER_INTENT, TEACHER_SLOTS, **temperatures)

    same, split = terms(temperature=2.0), terms(temperature=2.0, slot_temperature=1.0)
    np.testing.assert_allclose(split["intent_soft"], same["intent_soft"], rtol=1e-6)
    np.testing.assert_allclose(split["slot_soft"], terms(temperature=1.0)["slot_soft"], rtol=1e-6)
    assert abs(float(split["slot_soft"]) - float(same["slot_soft"])) > 1e-3


def test_padding_positions_do_not_count():
    slots = tf.constant(rng.normal(size=(4, 5, 7)), tf.float32)
    garbage = tf.where(SLOT_MASK[..., None] > 0, slots, 1e3)
    a = distillation_loss(TEACHER_INTENT, slots, SLOT_MASK, teacher_slot_logits=TEACHER_SLOTS)["slot_soft"]
    b = distillation_loss(TEACHER_INTENT, garbage, SLOT_MASK, teacher_slot_logits=TEACHER_SLOTS)["slot_soft"]
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_gold_term_only_for_rows_with_gold():
    intent = tf.constant(rng.normal(size=(4, 6)), tf.float32)
    slots = tf.constant(rng.normal(size=(4, 5, 7)), tf.float32)
    gold_intent = tf.constant([0, 1, 2, 3])
    gold_slots = tf.constant(rng.integers(0, 7, size=(4, 5)), tf.int32)
    has_gold = tf.constant([1.0, 1.0, 0.0, 0.0])
    kwargs = dict(teacher_intent_logits=TEACHER_INTENT, teacher_slot_logits=TEACHER_SLOTS, has_gold=has_gold)
    base = distillation_loss(intent, slots, SLOT_MASK, gold_intent=gold_intent, gold_slots=gold_slots, **kwargs)
    # Changing the gold labels of the augmented rows (2, 3) changes nothing...
    other = distillation_loss(
        intent,
        slots,
        SLOT_MASK,
        gold_intent=tf.constant([0, 1, 5, 5]),
        gold_slots=tf.tensor_scatter_nd_update(gold_slots, [[2], [3]], tf.zeros([2, 5], tf.int32)),
        **kwargs,
    )
    for key in ("loss", "intent_gold", "slot_gold"):
        np.testing.assert_allclose(base[key], other[key], rtol=1e-6)
    # ...while rows with gold do, and total = soft + gold_weight * gold per head.
    changed = distillation_loss(
        intent, slots, SLOT_MASK, gold_intent=tf.constant([5, 1, 2, 3]), gold_slots=gold_slots, **kwargs
    )
    assert float(changed["intent_gold"]) != pytest.approx(float(base["intent_gold"]))
    expected = base["intent_soft"] + 0.5 * base["intent_gold"] + base["slot_soft"] + 0.5 * base["slot_gold"]
    np.testing.assert_allclose(base["loss"], expected, rtol=1e-6)


def test_gold_only_loss_without_teacher_and_unknown_labels_ignored():
    intent = tf.constant(rng.normal(size=(4, 6)), tf.float32)
    slots = tf.constant(rng.normal(size=(4, 5, 7)), tf.float32)
    terms = distillation_loss(intent, slots, SLOT_MASK, gold_intent=tf.constant([0, -1, 2, -1]))
    expected = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 2], logits=tf.gather(intent, [0, 2]))
    )
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-6)
    with pytest.raises(ValueError):
        distillation_loss(intent, slots, SLOT_MASK)
