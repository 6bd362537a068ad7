"""tf.data input for the student from the dataset job's tf.Examples (gzipped TFRecords).

Each batch is (features [b, T, B], targets) with targets:
  slot_mask [b, W] float (1 at words), intent [b] int (-1 = none/unknown),
  slots [b, W] int (-1 = none), has_gold [b] float (0 for augmented rows) and, with
  `soft_labels`, teacher_intent_logits [b, C] and teacher_slot_logits [b, W, S].
W is the longest row of the batch after keeping `projection.max_words` words, which is
exactly the width of the model's word-aligned slot logits for these features.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf

from pqrnn.projection import Projection
from schemas.features import (
    AUGMENTED,
    INTENT,
    LANG,
    SLOT_TAGS,
    TEACHER_INTENT,
    TEACHER_INTENT_LOGITS,
    TEACHER_SLOT_LOGITS,
    TOKENS,
)


def _table(vocabulary: Sequence[str]) -> tf.lookup.StaticHashTable:
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(list(vocabulary)), tf.range(len(vocabulary), dtype=tf.int64))
    return tf.lookup.StaticHashTable(init, default_value=-1)


def _fit_width(x: tf.Tensor, width: tf.Tensor, fill) -> tf.Tensor:
    """Cut or pad axis 1 of a dense [b, w, ...] tensor to `width`."""
    x = x[:, :width]
    pad = [[0, 0], [0, width - tf.shape(x)[1]]] + [[0, 0]] * (len(x.shape) - 2)
    return tf.pad(x, pad, constant_values=fill)


class ExampleDecoder:
    """Serialized tf.Example batch -> (features, targets); usable inside `Dataset.map`."""

    def __init__(
        self,
        projection: Projection,
        intent_vocab: Sequence[str],
        tag_vocab: Sequence[str],
        soft_labels: bool = False,
    ):
        self.projection = projection
        self.num_intents = len(intent_vocab)
        self.num_tags = len(tag_vocab)
        self.soft_labels = soft_labels
        self.intent_table = _table(intent_vocab)
        self.tag_table = _table(tag_vocab)

    def spec(self) -> Dict[str, object]:
        spec = {
            TOKENS: tf.io.RaggedFeature(tf.string),
            INTENT: tf.io.FixedLenFeature([], tf.string, default_value=""),
            SLOT_TAGS: tf.io.RaggedFeature(tf.string),
            AUGMENTED: tf.io.FixedLenFeature([], tf.int64, default_value=0),
        }
        if self.soft_labels:
            spec[TEACHER_INTENT_LOGITS] = tf.io.FixedLenFeature([self.num_intents], tf.float32)
            spec[TEACHER_SLOT_LOGITS] = tf.io.RaggedFeature(tf.float32)
        return spec

    def __call__(self, serialized: tf.Tensor, training: bool = False) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        ex = tf.io.parse_example(serialized, self.spec())
        max_words = self.projection.max_words
        tokens = ex[TOKENS]
        features = self.projection(tokens, training=training)
        lengths = tf.minimum(tokens.row_lengths(), max_words)
        width = tf.cast(tf.reduce_max(tf.concat([lengths, [0]], 0)), tf.int32)
        targets = {
            "slot_mask": tf.sequence_mask(lengths, width, dtype=tf.float32),
            "intent": self.intent_table.lookup(ex[INTENT]),
            "slots": _fit_width(self.tag_table.lookup(ex[SLOT_TAGS][:, :max_words]).to_tensor(-1), width, -1),
            "has_gold": 1.0 - tf.cast(ex[AUGMENTED], tf.float32),
        }
        if self.soft_labels:
            targets["teacher_intent_logits"] = ex[TEACHER_INTENT_LOGITS]
            flat = ex[TEACHER_SLOT_LOGITS]
            per_token = tf.RaggedTensor.from_row_lengths(
                tf.reshape(flat.flat_values, [-1, self.num_tags]), flat.row_lengths() // self.num_tags
            )
            targets["teacher_slot_logits"] = _fit_width(per_token[:, :max_words].to_tensor(0.0), width, 0.0)
        return features, targets


def _language(serialized: tf.Tensor) -> tf.Tensor:
    return tf.io.parse_single_example(serialized, {LANG: tf.io.FixedLenFeature([], tf.string, default_value="")})[LANG]


def language_balanced(ds: tf.data.Dataset, exponent: float, seed: Optional[int]) -> tf.data.Dataset:
    """Rows drawn per language with probability ~ n_l ** exponent (see `make_dataset`)."""
    # The counting pass and every language's stream read the same records: read the files once.
    ds = ds.cache()
    counts = Counter(lang.decode("utf-8") for lang in ds.map(_language).as_numpy_iterator())
    languages = sorted(counts)
    weights = [counts[lang] ** exponent for lang in languages]
    streams = [
        ds.filter(lambda s, lang=lang: tf.equal(_language(s), lang))
        .shuffle(min(counts[lang], 10000), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        for lang in languages
    ]
    mixed = tf.data.Dataset.sample_from_datasets(streams, [w / sum(weights) for w in weights], seed=seed)
    return mixed.take(sum(counts.values()))


def _teacher_intent(serialized: tf.Tensor) -> tf.Tensor:
    spec = {TEACHER_INTENT: tf.io.FixedLenFeature([], tf.string, default_value="")}
    return tf.io.parse_single_example(serialized, spec)[TEACHER_INTENT]


def intent_balanced(ds: tf.data.Dataset, exponent: float, seed: Optional[int]) -> tf.data.Dataset:
    """Rows of (teacher) intent i repeated or left out at random so that an epoch holds about
    n_i ** exponent / sum_j n_j ** exponent of them and about as many rows as before: a rare
    intent is seen more often (see `make_dataset`). Each pass draws again."""
    counts = Counter(intent.decode("utf-8") for intent in ds.map(_teacher_intent).as_numpy_iterator())
    intents = sorted(counts)
    scale = sum(counts.values()) / sum(n**exponent for n in counts.values())
    copies = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(intents, tf.string), tf.constant([scale * counts[i] ** (exponent - 1) for i in intents])
        ),
        default_value=1.0,
    )

    def draw(serialized: tf.Tensor) -> tf.data.Dataset:
        # Expected copies c: floor(c) or floor(c) + 1 of them, the latter with probability c - floor(c).
        expected = copies.lookup(_teacher_intent(serialized))
        n = tf.cast(tf.floor(expected + tf.random.uniform([], seed=seed, dtype=expected.dtype)), tf.int64)
        return tf.data.Dataset.from_tensors(serialized).repeat(n)

    return ds.flat_map(draw)


def _token_count(serialized: tf.Tensor) -> tf.Tensor:
    tokens = tf.io.parse_single_example(serialized, {TOKENS: tf.io.VarLenFeature(tf.string)})[TOKENS]
    return tf.size(tokens.values)


def length_buckets(max_words: int) -> List[int]:
    """Bucket upper bounds (exclusive, in words): one per length up to 12 words, where most
    rows are, then growing by a quarter, so a batch pads at most ~25 % beyond its shortest row."""
    bounds = list(range(2, min(max_words, 12) + 1))
    while bounds[-1] < max_words:
        bounds.append(min(max_words, bounds[-1] + max(1, bounds[-1] // 4)))
    return bounds


def bucket_by_length(ds: tf.data.Dataset, batch_size: int, max_words: int) -> tf.data.Dataset:
    """Batches of serialized examples of similar length (rows longer than `max_words` are cut
    to it by the decoder, so they share the last bucket). A random batch of 128 pads to its
    longest row, ~3.7x the real tokens on the default data; these pad ~1.05x."""
    bounds = length_buckets(max_words)
    return ds.bucket_by_sequence_length(
        lambda s: tf.minimum(_token_count(s), max_words),
        bucket_boundaries=bounds,
        bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
        no_padding=True,
    )


def _records(file_pattern: str) -> tf.data.Dataset:
    files = sorted(tf.io.gfile.glob(file_pattern))
    if not files:
        raise FileNotFoundError(f"no TFRecord file matches {file_pattern}")
    return tf.data.TFRecordDataset(files, compression_type="GZIP")


def batches_per_pass(file_pattern: str, batch_size: int, max_words: int) -> int:
    """Batches in one pass of `make_dataset` over `file_pattern`: every length bucket ends with a
    partial batch. Language-balanced sampling draws other rows each pass: then about that many."""
    return int(bucket_by_length(_records(file_pattern), batch_size, max_words).reduce(0, lambda n, _: n + 1))


def make_dataset(
    file_pattern: str,
    decoder: ExampleDecoder,
    batch_size: int,
    training: bool,
    shuffle_buffer: int = 100000,
    seed: Optional[int] = None,
    language_exponent: float = 1.0,
    intent_exponent: float = 1.0,
) -> tf.data.Dataset:
    """Batches of (features, targets) from gzipped TFRecords; shuffled and distorted if training.

    `language_exponent` < 1 (training only) draws rows of language l with probability
    proportional to n_l ** exponent instead of n_l (1: as they come; 0: every language alike),
    the temperature sampling of multilingual pre-training, so a small language is not drowned
    out; an epoch keeps its number of rows. `intent_exponent` < 1 does the same by the teacher's
    intent (`intent_balanced`): a rare intent is seen more often. Batches hold rows of similar length
    (`bucket_by_length`): a step costs in proportion to its padded length, so this is the
    Trainer's largest saving; in training the batches are then shuffled so that lengths do not
    come in runs."""
    ds = _records(file_pattern)
    if training and language_exponent != 1.0:
        ds = language_balanced(ds, language_exponent, seed)
    if training and intent_exponent != 1.0:
        ds = intent_balanced(ds, intent_exponent, seed)
    if training and (language_exponent == 1.0 or intent_exponent != 1.0):
        # A row's copies come one after another: shuffle them apart.
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = bucket_by_length(ds, batch_size, decoder.projection.max_words)
    if training:
        ds = ds.shuffle(64, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda s: decoder(s, training=training), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
