"""`pqrnn.data`: length-bucketed batches keep every row once per epoch and pad little."""

import os

import numpy as np
import tensorflow as tf

from pqrnn.data import ExampleDecoder, batches_per_pass, length_buckets, make_dataset
from pqrnn.projection import Projection
from tests.pqrnn.test_training import CONFIG, write_toy_dataset


def test_buckets_cover_every_length_and_grow_slowly():
    bounds = length_buckets(62)
    assert bounds[0] == 2 and bounds[-1] == 62 and bounds == sorted(set(bounds))
    assert all(b - a <= max(1, a // 4) for a, b in zip(bounds, bounds[1:]))


def test_every_row_once_per_epoch_in_batches_of_similar_length(tmp_path):
    _, intents, tags = write_toy_dataset(str(tmp_path))
    projection = Projection.from_config(CONFIG)
    decoder = ExampleDecoder(projection, intents, tags, soft_labels=True)
    pattern = os.path.join(tmp_path, "Split-train", "*.gz")
    files = sorted(tf.io.gfile.glob(pattern))
    lengths = sorted(
        len(tf.train.Example.FromString(r.numpy()).features.feature["tokens"].bytes_list.value)
        for r in tf.data.TFRecordDataset(files, compression_type="GZIP")
    )
    for training in (True, False):
        seen, padded = [], 0
        for _, targets in make_dataset(pattern, decoder, 8, training=training, seed=0):
            words = targets["slot_mask"].numpy().sum(axis=1).astype(int)
            seen.extend(words)
            padded += targets["slot_mask"].shape[0] * targets["slot_mask"].shape[1]
            # A batch's rows fall in one bucket: the longest is at most a quarter longer than the shortest.
            assert words.max() <= max(words.min() + 1, int(words.min() * 1.25)), words
        assert sorted(seen) == [min(n, projection.max_words) for n in lengths]
        assert padded <= 1.3 * sum(seen)
    # Training batches come in a different order each epoch (shuffled rows and batches).
    data = make_dataset(pattern, decoder, 8, training=True, seed=0)
    first, second = ([t["intent"].numpy().tolist() for _, t in data] for _ in range(2))
    assert first != second and np.array_equal(sorted(sum(first, [])), sorted(sum(second, [])))


def test_batches_per_pass_is_one_pass_of_the_training_batches(tmp_path):
    # train_student repeats the training data and ends each epoch after this many batches.
    _, intents, tags = write_toy_dataset(str(tmp_path))
    projection = Projection.from_config(CONFIG)
    decoder = ExampleDecoder(projection, intents, tags, soft_labels=True)
    pattern = os.path.join(tmp_path, "Split-train", "*.gz")
    passes = {b: sum(1 for _ in make_dataset(pattern, decoder, b, training=True, seed=0)) for b in (3, 8, 1000)}
    assert passes[3] > passes[8] > 1  # partial batches: one per length bucket at most
    assert {b: batches_per_pass(pattern, b, projection.max_words) for b in passes} == passes
