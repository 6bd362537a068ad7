"""`pqrnn.data`: length-bucketed batches keep every row once per epoch and pad little."""

import os

import numpy as np
import tensorflow as tf

from pqrnn.data import ExampleDecoder, batches_per_pass, length_buckets, make_dataset
from pqrnn.projection import Projection, novel_words
from schemas.features import INTENT, SLOT_TAGS, TEACHER_INTENT_LOGITS, TEACHER_SLOT_LOGITS, TOKENS
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


def test_novel_words_redraw_only_the_chosen_words_from_their_own_characters():
    words = tf.constant(["pittsburgh", "weather", "ภูเก็ต", "x"])
    chosen = tf.constant([True, False, True, True])
    out = [w.decode() for w in novel_words(words, chosen, seed=1).numpy()]
    assert out[1] == "weather" and out[3] == "x"
    for before, after in ((words[0], out[0]), (words[2], out[2])):
        before = before.numpy().decode()
        assert len(after) == len(before) and set(after) <= set(before)
    assert out[0] != "pittsburgh"


def _example(tokens, teacher_tags, tags):
    logits = np.full((len(tokens), len(tags)), -5.0, np.float32)
    logits[np.arange(len(tokens)), [tags.index(t) for t in teacher_tags]] = 5.0
    feature = {
        TOKENS: tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode() for t in tokens])),
        INTENT: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"play"])),
        SLOT_TAGS: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"O"] * len(tokens))),
        TEACHER_INTENT_LOGITS: tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])),
        TEACHER_SLOT_LOGITS: tf.train.Feature(float_list=tf.train.FloatList(value=logits.reshape(-1))),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_novel_slot_words_change_only_the_words_the_teacher_puts_in_a_slot():
    tags = ["O", "B-genre", "I-genre"]
    projection = Projection(feature_size=64, max_tokens=16)  # no distortion: only the new words differ
    serialized = tf.constant([_example(["play", "smooth", "jazz", "now"], ["O", "B-genre", "I-genre", "O"], tags)])
    plain, _ = ExampleDecoder(projection, ["play"], tags, soft_labels=True)(serialized, training=True)
    novel, _ = ExampleDecoder(projection, ["play"], tags, soft_labels=True, novel_slot_words=1.0)(
        serialized, training=True
    )
    scored, _ = ExampleDecoder(projection, ["play"], tags, soft_labels=True, novel_slot_words=1.0)(serialized)
    changed = np.any(plain.numpy()[0] != novel.numpy()[0], axis=-1)
    assert changed.tolist() == [False, False, True, True, False, False]  # BOS play smooth jazz now EOS
    assert np.array_equal(scored.numpy(), plain.numpy())  # never when scoring
