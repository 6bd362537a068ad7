"""pqrnn.decoding.bio_decode (TF ops) equals schemas.bio.decode (NumPy) row by row."""

import numpy as np
import tensorflow as tf

from pqrnn.decoding import bio_decode
from schemas.bio import decode

TAGS = ["O", "B-a", "I-a", "B-b", "I-b"]


def test_the_graph_decoder_equals_the_numpy_one_on_rows_of_every_length():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 7, len(TAGS))).astype(np.float32)
    logits[:, :, 2] += 1.0  # plenty of invalid argmax sequences ("O I-a")
    lengths = rng.integers(0, 8, size=64).astype(np.int32)
    got = bio_decode(tf.constant(logits), tf.constant(lengths), TAGS).numpy()
    assert got.shape == (64, 7)
    for row, n in enumerate(lengths):
        assert got[row, :n].tolist() == decode(logits[row, :n], TAGS)
        assert (got[row, n:] == 0).all()  # "O" past the words
    assert any(decode(logits[r, :n], TAGS) != logits[r, :n].argmax(-1).tolist() for r, n in enumerate(lengths))


def test_an_empty_batch_width_decodes_to_nothing():
    out = bio_decode(tf.zeros([3, 0, len(TAGS)]), tf.zeros([3], tf.int32), TAGS)
    assert out.shape == (3, 0)


def test_the_decoder_traces_in_a_graph_with_unknown_shapes():
    fn = tf.function(
        lambda x, n: bio_decode(x, n, TAGS),
        input_signature=[tf.TensorSpec([None, None, len(TAGS)]), tf.TensorSpec([None], tf.int32)],
    )
    logits = np.zeros((2, 3, len(TAGS)), np.float32)
    logits[:, :, 2], logits[:, :, 1] = 1.0, 0.5  # argmax "I-a I-a I-a": the best valid is "B-a I-a I-a"
    assert fn(logits, tf.constant([3, 1])).numpy().tolist() == [[1, 2, 2], [1, 0, 0]]
