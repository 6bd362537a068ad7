"""BIO-constrained slot decoding in TensorFlow ops, so the SavedModel serves what
`schemas.bio.decode` computes (the same rule, `schemas.bio.allowed_transitions`): the best
tag sequence in which every I-X continues a B-X or I-X, instead of a per-word argmax."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from schemas.bio import allowed_transitions
from schemas.features import OUTSIDE_TAG

_FORBIDDEN = -1e9  # finite: -inf would make 0 * -inf = NaN in the reductions


def bio_decode(slot_logits: tf.Tensor, lengths: tf.Tensor, tags: Sequence[str]) -> tf.Tensor:
    """Tag ids [b, W] (int32) of the best valid sequence per row of `slot_logits` [b, W, tags]
    over its first `lengths` [b] words; positions past a row's words get "O"."""
    allowed, first = allowed_transitions(tags)
    forbid = tf.constant(np.where(allowed, 0.0, _FORBIDDEN), tf.float32)
    start = tf.constant(np.where(first, 0.0, _FORBIDDEN), tf.float32)
    outside = tf.one_hot(list(tags).index(OUTSIDE_TAG), len(tags), on_value=0.0, off_value=_FORBIDDEN)
    slot_logits = tf.cast(slot_logits, tf.float32)
    is_word = tf.sequence_mask(lengths, tf.shape(slot_logits)[1])
    # Past a row's words only "O" may follow, and "O" may follow any tag: the row's own
    # words decode as if alone.
    scores = tf.transpose(tf.where(is_word[..., None], slot_logits, outside), [1, 0, 2])  # [W, b, tags]

    def forward(carry, word_scores):
        total, _ = carry
        candidates = total[:, :, None] + forbid  # [b, previous, tag]
        return tf.reduce_max(candidates, 1) + word_scores, tf.argmax(candidates, 1, output_type=tf.int32)

    def backward(tag, pointers):
        return tf.gather(pointers, tag, batch_dims=1)

    def decode_rows() -> tf.Tensor:
        total0 = scores[0] + start
        no_pointers = tf.zeros(tf.shape(total0), tf.int32)
        totals, pointers = tf.scan(forward, scores[1:], initializer=(total0, no_pointers))
        last_total = tf.concat([total0[None], totals], 0)[-1]  # total0 alone for one word
        last = tf.argmax(last_total, -1, output_type=tf.int32)
        earlier = tf.scan(backward, pointers, initializer=last, reverse=True)  # [W-1, b]
        return tf.transpose(tf.concat([earlier, last[None]], 0))

    empty = lambda: tf.zeros([tf.shape(slot_logits)[0], 0], tf.int32)  # noqa: E731
    return tf.cond(tf.shape(scores)[0] > 0, decode_rows, empty)
