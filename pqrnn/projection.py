"""Weight-free ternary projection of word tokens, in stock TensorFlow ops.

The hash (see also DESIGN.md): a token is lower-cased (`tf.strings.lower`, UTF-8 aware),
and for word index j = 0, 1, ..., ceil(B/32)-1 the bytes `token + 0xFF + byte(j)` are hashed
with FarmHash Fingerprint64 (`tf.fingerprint`, which TF documents as stable across
platforms and releases; it reads bytes as unsigned and loads words little-endian, so no
`char` signedness or endianness enters). The 0xFF separator never occurs in UTF-8, so
salted inputs of different tokens cannot coincide. The 8 fingerprint bytes, in
little-endian order, give four 2-bit fields each (least significant bits first); field
value v maps to (v & 1) - (v >> 1), i.e. 00->0, 01->+1, 10->-1, 11->0, so P(0)=1/2 and
P(+1)=P(-1)=1/4. Feature i of the token is field i of the concatenated fields (j-major),
truncated to B. Empty tokens hash as NULL_TOKEN, and BOS/EOS as BOS_TOKEN/EOS_TOKEN: the
markers start with byte 0xFE, which no UTF-8 text contains, so no user token collides.

Training-only distortion (probability p per token): one random character edit of the
lower-cased token, chosen uniformly among delete a character, move a character to another
slot, insert a character drawn from the other characters of the batch (the reference
inserts a "remembered" character; drawing from the batch is the stateless equivalent).
"""

from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

from pqrnn.hash_spec import (
    BOS_TOKEN,
    CASE_MARK,
    EOS_TOKEN,
    FIELDS_PER_HASH,
    NGRAM_MARK,
    NULL_TOKEN,
    PREFIX_MARK,
    salts,
)


def hash_features(tokens: tf.Tensor, feature_size: int) -> tf.Tensor:
    """Ternary features [N, feature_size] (float32) of a flat string tensor [N] of tokens."""
    if math.ceil(feature_size / FIELDS_PER_HASH) > 256:
        raise ValueError("feature_size above 8192 is not supported (one salt byte)")
    suffix = tf.constant(salts(feature_size))
    salted = tf.reshape(tf.expand_dims(tokens, 1) + tf.expand_dims(suffix, 0), [-1])
    digest = tf.cast(tf.fingerprint(salted), tf.int32)  # [N * words, 8] little-endian bytes
    digest = tf.reshape(digest, [-1, suffix.shape[0] * 8, 1])
    fields = tf.bitwise.bitwise_and(tf.bitwise.right_shift(digest, tf.constant([0, 2, 4, 6])), 3)
    values = tf.bitwise.bitwise_and(fields, 1) - tf.bitwise.right_shift(fields, 1)
    return tf.cast(tf.reshape(values, [-1, suffix.shape[0] * FIELDS_PER_HASH])[:, :feature_size], tf.float32)


def distort(tokens: tf.Tensor, probability: float, seed: Optional[int] = None) -> tf.Tensor:
    """Apply one random character edit to each token of a flat string tensor with `probability`."""
    chars = tf.strings.unicode_decode(tokens, "UTF-8", errors="replace")
    n = tf.shape(tokens, out_type=tf.int64)[0]
    lengths = chars.row_lengths()
    rng = tf.random.uniform([4, n], seed=seed)
    apply = (rng[0] < probability) & (lengths > 0)
    op = tf.cast(rng[1] * 3.0, tf.int64)  # 0 delete, 1 move, 2 insert
    lengths_f = tf.cast(lengths, tf.float32)
    pick = tf.minimum(tf.cast(rng[2] * lengths_f, tf.int64), tf.maximum(lengths - 1, 0))
    slot = tf.minimum(tf.cast(rng[3] * (lengths_f + 1.0), tf.int64), lengths)

    rows = chars.value_rowids()
    pos = tf.range(tf.size(chars.flat_values, out_type=tf.int64)) - tf.gather(chars.row_starts(), rows)
    removed = tf.gather(apply & (op < 2), rows) & tf.equal(pos, tf.gather(pick, rows))
    keep = tf.logical_not(removed)
    # Keys order characters within a token: original char i at 2i+1, an inserted one at 2*slot.
    pool = chars.flat_values
    pool_size = tf.maximum(tf.size(pool, out_type=tf.int64), 1)
    donor = tf.gather(pool, tf.random.uniform([n], maxval=pool_size, dtype=tf.int64, seed=seed) % pool_size)
    # Rows without characters never edit; clamping only keeps their gather in bounds.
    picked = tf.gather(pool, tf.minimum(chars.row_starts() + pick, pool_size - 1))
    extra = apply & (op > 0)
    extra_rows = tf.boolean_mask(tf.range(n), extra)
    extra_chars = tf.boolean_mask(tf.where(op == 1, picked, donor), extra)
    extra_keys = tf.boolean_mask(2 * slot, extra)

    all_rows = tf.concat([tf.boolean_mask(rows, keep), extra_rows], 0)
    all_keys = tf.concat([tf.boolean_mask(2 * pos + 1, keep), extra_keys], 0)
    all_chars = tf.concat([tf.boolean_mask(pool, keep), extra_chars], 0)
    stride = 2 * tf.reduce_max(tf.concat([lengths, [0]], 0)) + 2
    order = tf.argsort(all_rows * stride + all_keys, stable=True)
    edited = tf.RaggedTensor.from_value_rowids(tf.gather(all_chars, order), tf.gather(all_rows, order), nrows=n)
    return tf.strings.unicode_encode(edited, "UTF-8")


class Projection:
    """Word tokens -> ternary features [batch, T, feature_size], zero at padding positions.

    T = min(longest row, max_tokens) (+2 with BOS/EOS); at most `max_words` words are kept.
    """

    def __init__(
        self,
        feature_size: int,
        max_tokens: int,
        add_bos_eos: bool = True,
        distortion_probability: float = 0.0,
        prefix_features: int = 0,
        prefix_chars: int = 4,
        ngram_features: int = 0,
        ngram_chars: int = 3,
        case_features: int = 0,
    ):
        self.feature_size = feature_size
        self.prefix_features = prefix_features
        self.prefix_chars = prefix_chars
        self.ngram_features = ngram_features
        self.ngram_chars = ngram_chars
        self.case_features = case_features
        self.max_tokens = max_tokens
        self.add_bos_eos = add_bos_eos
        self.distortion_probability = distortion_probability
        self.max_words = max_tokens - (2 if add_bos_eos else 0)
        if self.max_words < 1:
            raise ValueError(f"max_tokens={max_tokens} leaves no room for words")

    @classmethod
    def from_config(cls, student_config) -> "Projection":
        p = student_config.projection
        return cls(
            p.feature_size,
            student_config.max_tokens,
            p.add_bos_eos,
            p.distortion_probability,
            p.prefix_features,
            p.prefix_chars,
            p.ngram_features,
            p.ngram_chars,
            p.case_features,
        )

    def word_features(self, words: tf.Tensor, shapes: Optional[tf.Tensor] = None) -> tf.Tensor:
        """Features [N, feature_size] of a flat tensor of lower-cased words (NULL_TOKEN for an
        empty one): the word's hash, whose last `prefix_features` come instead from the hash of
        PREFIX_MARK + its first `prefix_chars` characters, so that words sharing a stem
        ("alarm", "alarms") share those features, the `ngram_features` before them from its
        character n-grams (`ngram_bag`), and the `case_features` before those from the hash of
        CASE_MARK + its case shape (`case_shapes` of the words as written, given as `shapes`).
        NULL_TOKEN keeps its whole hash."""
        parts_size = self.prefix_features + self.ngram_features + self.case_features
        if not parts_size:
            return hash_features(words, self.feature_size)
        # A hash's first k features depend only on its first ceil(k / 32) salts: hashing the word
        # for the features it keeps gives the same values without the fingerprints it would drop.
        parts = [hash_features(words, self.feature_size - parts_size)]
        if self.case_features:
            parts.append(hash_features(CASE_MARK + shapes, self.case_features))
        if self.ngram_features:
            parts.append(self.ngram_bag(words))
        if self.prefix_features:
            prefixes = PREFIX_MARK + tf.strings.substr(words, 0, self.prefix_chars, unit="UTF8_CHAR")
            parts.append(hash_features(prefixes, self.prefix_features))
        null = hash_features(tf.constant([NULL_TOKEN]), self.feature_size)
        return tf.where(tf.equal(words, NULL_TOKEN)[:, None], null, tf.concat(parts, axis=1))

    @staticmethod
    def case_shapes(tokens: tf.Tensor) -> tf.Tensor:
        """One byte per token as written (cut at its first NUL, as lower-casing reads it): 1 when
        its first character changes under lower-casing, + 2 when another character does."""
        cut = tf.strings.split(tokens, sep="\x00").to_tensor("", shape=[None, 1])[:, 0]
        chars = tf.strings.unicode_split(cut, "UTF-8")
        changed = chars.with_flat_values(
            tf.not_equal(tf.strings.lower(chars.flat_values, encoding="utf-8"), chars.flat_values)
        )
        first = tf.reduce_any(changed[:, :1], axis=1)
        other = tf.reduce_any(changed[:, 1:], axis=1)
        shape = tf.cast(first, tf.int32) + 2 * tf.cast(other, tf.int32)
        return tf.gather(tf.constant([b"\x00", b"\x01", b"\x02", b"\x03"]), shape)

    def ngram_bag(self, words: tf.Tensor) -> tf.Tensor:
        """[N, ngram_features]: the sign of the sum of the hashes of NGRAM_MARK + each character
        `ngram_chars`-gram of " word " (a shorter word: the one padded word), a SimHash that
        stays ternary (so the features stay int8 on a device) and keeps words that share
        pieces close."""
        chars = tf.strings.unicode_split(" " + words + " ", "UTF-8")
        grams = tf.strings.ngrams(chars, self.ngram_chars, separator="", pad_values=None, preserve_short_sequences=True)
        hashed = hash_features(NGRAM_MARK + grams.flat_values, self.ngram_features)
        summed = tf.math.segment_sum(hashed, grams.value_rowids())
        return tf.sign(tf.pad(summed, [[0, tf.shape(words)[0] - tf.shape(summed)[0]], [0, 0]]))

    def __call__(self, tokens: tf.RaggedTensor, training: bool = False, seed: Optional[int] = None) -> tf.Tensor:
        tokens = tokens[:, : self.max_words]
        flat = tf.strings.lower(tokens.flat_values, encoding="utf-8")
        if training and self.distortion_probability > 0:
            flat = distort(flat, self.distortion_probability, seed)
        words = tf.where(tf.equal(flat, ""), NULL_TOKEN, flat)
        shapes = self.case_shapes(tokens.flat_values) if self.case_features else None
        features = tokens.with_flat_values(self.word_features(words, shapes)).with_row_splits_dtype(tf.int64)
        if self.add_bos_eos:
            nrows = features.nrows()
            markers = hash_features(tf.constant([BOS_TOKEN, EOS_TOKEN]), self.feature_size)
            ones = tf.ones([nrows], tf.int64)
            bos = tf.RaggedTensor.from_row_lengths(tf.tile(markers[:1], [nrows, 1]), ones)
            eos = tf.RaggedTensor.from_row_lengths(tf.tile(markers[1:], [nrows, 1]), ones)
            features = tf.concat([bos, features, eos], axis=1)
        return features.to_tensor(shape=[None, None, self.feature_size])


def token_mask(features: tf.Tensor) -> tf.Tensor:
    """1.0 where a position holds a token: a real token's ternary vector is never all zero
    (probability 2^-B), so padding is recognisable from the features alone."""
    return tf.cast(tf.reduce_max(tf.abs(features), axis=-1) > 0, features.dtype)
