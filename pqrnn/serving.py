"""Fast single-query serving of an exported student: raw text in, intent and word slot tags
out, with no TensorFlow call per query.

    student = FastStudent.from_saved_model("serving/1700000000")   # the exported SavedModel folder
    student("turn on the kitchen light")  # Prediction(intent=..., slot_tags=[...], tokens=[...], ...)

The path a device or a Python service deploys: the word tokenizer (`tokenization.words`, the
rule `tokenization.tf_ops` follows), the ternary hash projection in NumPy (bit-exact with
`pqrnn.projection`: the same lower-casing, markers and salted FarmHash Fingerprint64, a
port of `tf.fingerprint`), then the int8 TFLite encoder of `assets.extra/` on [1, T, B].
Only NumPy and a TFLite interpreter are needed: LiteRT's (`ai_edge_litert`, pinned in
requirements.lock), else `tflite_runtime`, else TensorFlow's `tf.lite.Interpreter`; so with
LiteRT installed no TensorFlow is imported at all. The C port of the tokenizer and the
projection, for apps, is in `device/` (device/README.md).

Speed: a per-process LRU cache maps lower-cased tokens to their features (a service sees the
same words again and again), and one interpreter is kept allocated per input length T
(re-allocating XNNPACK's plan on every resize costs more than the whole query; padding to a
common length would change the int8 results). Outputs decode as `serving_default` of the
SavedModel does: argmax intent, one BIO tag per kept word.

Command line: `python -m pqrnn.serving SERVING_DIR` reads UTF-8 lines from stdin (invalid
bytes become U+FFFD, as in the SavedModel) and writes one JSON prediction per line.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from pqrnn.hash_spec import (
    BOS_TOKEN,
    CASE_MARK,
    EOS_TOKEN,
    FIELDS_PER_HASH,
    NGRAM_MARK,
    NULL_TOKEN,
    PREFIX_MARK,
    SALT_SEPARATOR,
)
from schemas import bio
from schemas.features import INTENT_VOCAB, SLOT_TAG_VOCAB, TFLITE_DIR, TFLITE_FILE, vocab_file
from tokenization import words as split_words

STUDENT_CONFIG_FILE = "student_config.json"  # written beside the TFLite file by pqrnn.export
# Also beside it, for an app on a device (device/README.md): the projection's parameters, and
# golden vectors of this model (features and the SavedModel's intent and tags per utterance).
DEVICE_PROJECTION_FILE = "device_projection.json"
DEVICE_GOLDEN_FILE = "device_golden.jsonl"
# Version of the hash and word rule (DESIGN.md "The hash", tokenization); the C port checks it
# (PQRNN_HASH_SPEC_VERSION in device/pqrnn_projection.h). Bump on any change of either.
HASH_SPEC_VERSION = 4

# ------------------------------------------------------------------ FarmHash Fingerprint64
# farmhashna::Hash64 (what tf.fingerprint's "farmhash64" computes), vectorised over a batch of
# byte strings of one length: uint64 arrays wrap modulo 2**64 like the C code.
_U = np.uint64
_K0, _K1, _K2 = _U(0xC3A5C85C97CB3127), _U(0xB492B66FBE98F273), _U(0x9AE16A3B2F90404F)
_MASK = (1 << 64) - 1


def _fetch64(s: np.ndarray, i: int) -> np.ndarray:
    return np.ascontiguousarray(s[:, i : i + 8]).view("<u8")[:, 0].astype(np.uint64)


def _fetch32(s: np.ndarray, i: int) -> np.ndarray:
    return np.ascontiguousarray(s[:, i : i + 4]).view("<u4")[:, 0].astype(np.uint64)


def _ror(v: np.ndarray, r: int) -> np.ndarray:
    return (v >> _U(r)) | (v << _U(64 - r))


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> _U(47))


def _hash16(u: np.ndarray, v: np.ndarray, mul: np.ndarray) -> np.ndarray:
    a = _shift_mix((u ^ v) * mul)
    b = _shift_mix((v ^ a) * mul)
    return b * mul


def _weak32(s: np.ndarray, i: int, a: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    w, x, y, z = _fetch64(s, i), _fetch64(s, i + 8), _fetch64(s, i + 16), _fetch64(s, i + 24)
    a = a + w
    b = _ror(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _ror(a, 44)
    return a + z, b + c


def _hash_upto_16(s: np.ndarray, n: int) -> np.ndarray:
    mul = _U((int(_K2) + 2 * n) & _MASK)
    if n >= 8:
        a = _fetch64(s, 0) + _K2
        b = _fetch64(s, n - 8)
        c = _ror(b, 37) * mul + a
        d = (_ror(a, 25) + b) * mul
        return _hash16(c, d, mul)
    if n >= 4:
        return _hash16(_U(n) + (_fetch32(s, 0) << _U(3)), _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[:, 0].astype(np.uint64) + (s[:, n >> 1].astype(np.uint64) << _U(8))
        z = _U(n) + (s[:, n - 1].astype(np.uint64) << _U(2))
        return _shift_mix((y * _K2) ^ (z * _K0)) * _K2
    return np.full(s.shape[0], _K2, np.uint64)


def _hash_17_to_64(s: np.ndarray, n: int) -> np.ndarray:
    mul = _U((int(_K2) + 2 * n) & _MASK)
    if n <= 32:
        a = _fetch64(s, 0) * _K1
        b = _fetch64(s, 8)
        c = _fetch64(s, n - 8) * mul
        d = _fetch64(s, n - 16) * _K2
        return _hash16(_ror(a + b, 43) + _ror(c, 30) + d, a + _ror(b + _K2, 18) + c, mul)
    a = _fetch64(s, 0) * _K2
    b = _fetch64(s, 8)
    c = _fetch64(s, n - 8) * mul
    d = _fetch64(s, n - 16) * _K2
    y = _ror(a + b, 43) + _ror(c, 30) + d
    z = _hash16(y, a + _ror(b + _K2, 18) + c, mul)
    e = _fetch64(s, 16) * mul
    f = _fetch64(s, 24)
    g = (y + _fetch64(s, n - 32)) * mul
    h = (z + _fetch64(s, n - 24)) * mul
    return _hash16(_ror(e + f, 43) + _ror(g, 30) + h, e + _ror(f + a, 18) + g, mul)


def _hash_over_64(s: np.ndarray, n: int) -> np.ndarray:
    # The initial state is a constant (seed 81), computed here on Python ints.
    y0 = (81 * int(_K1) + 113) & _MASK
    z0 = (y0 * int(_K2) + 113) & _MASK
    z0 = ((z0 ^ (z0 >> 47)) * int(_K2)) & _MASK

    def full(value: int) -> np.ndarray:
        return np.full(s.shape[0], _U(value), np.uint64)

    x, y, z = full(81), full(y0), full(z0)
    v = (full(0), full(0))
    w = (full(0), full(0))
    x = x * _K2 + _fetch64(s, 0)
    end = ((n - 1) // 64) * 64
    i = 0
    while True:
        x = _ror(x + y + v[0] + _fetch64(s, i + 8), 37) * _K1
        y = _ror(y + v[1] + _fetch64(s, i + 48), 42) * _K1
        x = x ^ w[1]
        y = y + v[0] + _fetch64(s, i + 40)
        z = _ror(z + w[0], 33) * _K1
        v = _weak32(s, i, v[1] * _K1, x + w[0])
        w = _weak32(s, i + 32, z + w[1], y + _fetch64(s, i + 16))
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = _K1 + ((z & _U(0xFF)) << _U(1))
    i = n - 64
    w0 = w[0] + _U((n - 1) & 63)
    v = (v[0] + w0, v[1])
    w = (w0 + v[0], w[1])
    x = _ror(x + y + v[0] + _fetch64(s, i + 8), 37) * mul
    y = _ror(y + v[1] + _fetch64(s, i + 48), 42) * mul
    x = x ^ (w[1] * _U(9))
    y = y + v[0] * _U(9) + _fetch64(s, i + 40)
    z = _ror(z + w[0], 33) * mul
    v = _weak32(s, i, v[1] * mul, x + w[0])
    w = _weak32(s, i + 32, z + w[1], y + _fetch64(s, i + 16))
    z, x = x, z
    return _hash16(_hash16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z, _hash16(v[1], w[1], mul) + x, mul)


def fingerprint64_same_length(strings: np.ndarray) -> np.ndarray:
    """FarmHash Fingerprint64 (= `tf.fingerprint(..., "farmhash64")` read little-endian) of
    each row of a uint8 array [N, n] (N byte strings of one length n), as uint64 [N]."""
    s = np.ascontiguousarray(strings, dtype=np.uint8)
    n = s.shape[1]
    with np.errstate(over="ignore"):
        if n <= 16:
            return _hash_upto_16(s, n)
        if n <= 64:
            return _hash_17_to_64(s, n)
        return _hash_over_64(s, n)


def fingerprint64(data: bytes) -> int:
    """FarmHash Fingerprint64 of one byte string (see `fingerprint64_same_length`)."""
    return int(fingerprint64_same_length(np.frombuffer(data, np.uint8)[None, :])[0])


# ------------------------------------------------------------------ projection
# Byte -> its four 2-bit fields (least significant first) as ternary values: 00->0 01->+1 10->-1 11->0.
_FIELDS = np.array([[[0, 1, -1, 0][(b >> (2 * k)) & 3] for k in range(4)] for b in range(256)], np.int8)


def hash_features(tokens: Sequence[bytes], feature_size: int) -> np.ndarray:
    """Ternary features [N, feature_size] (int8) of already lower-cased tokens, as
    `pqrnn.projection.hash_features` computes them (empty tokens are not mapped here)."""
    words = math.ceil(feature_size / FIELDS_PER_HASH)
    salts = np.array([[SALT_SEPARATOR[0], j] for j in range(words)], np.uint8)
    out = np.empty((len(tokens), words * FIELDS_PER_HASH), np.int8)
    by_length: Dict[int, List[int]] = {}
    for i, token in enumerate(tokens):
        by_length.setdefault(len(token), []).append(i)
    # One vectorised hash per token length: every salted string of these tokens has length n + 2.
    for n, rows in by_length.items():
        body = np.frombuffer(b"".join(tokens[i] for i in rows), np.uint8).reshape(len(rows), n)
        salted = np.concatenate(
            [np.repeat(body, words, axis=0), np.tile(salts, (len(rows), 1))], axis=1
        )  # [rows * words, n + 2], token-major like the TF op
        digest = fingerprint64_same_length(salted).astype("<u8").view(np.uint8)  # little-endian bytes
        out[rows] = _FIELDS[digest].reshape(len(rows), words * FIELDS_PER_HASH)
    return out[:, :feature_size]


def case_shape(word: str) -> bytes:
    """`pqrnn.projection.Projection.case_shapes` of one word as written."""
    changed = [ch.lower() != ch for ch in word.split("\0", 1)[0]]
    return bytes([int(changed[:1] == [True]) + 2 * int(any(changed[1:]))])


class NumpyProjection:
    """Words -> features [1, T, feature_size] (float32) equal to `pqrnn.projection.Projection`
    (inference) on the same words: lower-cased, empty -> NULL marker, at most `max_words`
    words, BOS/EOS around them, the last `prefix_features` of a word from its first
    `prefix_chars` characters, the `ngram_features` before them from its character n-grams,
    the `case_features` before those from its case shape as written. Features of recent
    tokens stay in an LRU cache."""

    def __init__(
        self,
        feature_size: int,
        max_tokens: int,
        add_bos_eos: bool = True,
        cache_size: int = 50_000,
        prefix_features: int = 0,
        prefix_chars: int = 4,
        ngram_features: int = 0,
        ngram_chars: int = 3,
        case_features: int = 0,
    ):
        self.feature_size = feature_size
        self.max_tokens = max_tokens
        self.add_bos_eos = add_bos_eos
        self.prefix_features = prefix_features
        self.prefix_chars = prefix_chars
        self.ngram_features = ngram_features
        self.ngram_chars = ngram_chars
        self.case_features = case_features
        self.max_words = max_tokens - (2 if add_bos_eos else 0)
        self.cache_size = cache_size
        self._cache: "OrderedDict[bytes, np.ndarray]" = OrderedDict()

    def tokens(self, words: Sequence[str]) -> List[bytes]:
        """The byte strings that are hashed, markers included."""
        # tf.strings.lower reads a token as a C string: it ends at the first NUL.
        body = [w.split("\0", 1)[0].lower().encode("utf-8") or NULL_TOKEN for w in words[: self.max_words]]
        return [BOS_TOKEN, *body, EOS_TOKEN] if self.add_bos_eos else body

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        tokens = self.tokens(words)
        if self.case_features:
            # The cache key carries the case shape: CASE_MARK never occurs in a token.
            shapes = [CASE_MARK + case_shape(w) for w in words[: self.max_words]]
            words_at = 1 if self.add_bos_eos else 0
            for i, shape in enumerate(shapes, start=words_at):
                tokens[i] += shape
        cache = self._cache
        missing = list({t for t in tokens if t not in cache})
        if missing:
            for token, row in zip(missing, self._features(missing)):
                cache[token] = row
        rows = []
        for token in tokens:
            cache.move_to_end(token)
            rows.append(cache[token])
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        if not rows:
            return np.zeros((1, 0, self.feature_size), np.float32)
        return np.stack(rows)[None].astype(np.float32)

    def _features(self, keys: List[bytes]) -> np.ndarray:
        tokens = [key.split(CASE_MARK, 1)[0] for key in keys]
        features = hash_features(tokens, self.feature_size)
        words = [i for i, t in enumerate(tokens) if t not in (BOS_TOKEN, EOS_TOKEN, NULL_TOKEN)]
        if self.case_features and words:
            end = self.feature_size - self.prefix_features - self.ngram_features
            shapes = [CASE_MARK + keys[i].split(CASE_MARK, 1)[1] for i in words]
            features[words, end - self.case_features : end] = hash_features(shapes, self.case_features)
        if self.prefix_features and words:
            prefixes = [PREFIX_MARK + tokens[i].decode("utf-8")[: self.prefix_chars].encode("utf-8") for i in words]
            features[words, self.feature_size - self.prefix_features :] = hash_features(prefixes, self.prefix_features)
        if self.ngram_features and words:
            end = self.feature_size - self.prefix_features
            for i in words:
                features[i, end - self.ngram_features : end] = self._ngram_bag(tokens[i].decode("utf-8"))
        return features

    def _ngram_bag(self, word: str) -> np.ndarray:
        """`pqrnn.projection.Projection.ngram_bag` of one word."""
        padded, n = f" {word} ", self.ngram_chars
        grams = [padded[i : i + n] for i in range(len(padded) - n + 1)] or [padded]
        hashed = hash_features([NGRAM_MARK + g.encode("utf-8") for g in grams], self.ngram_features)
        return np.sign(hashed.sum(axis=0, dtype=np.int32))


# ------------------------------------------------------------------ the TFLite student
def _interpreter_class() -> Any:
    try:  # LiteRT, the runtime-only successor of tflite_runtime: no TensorFlow
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    return Interpreter


@dataclass
class Prediction:
    """What `serving_default` returns for one query, as Python values."""

    intent: str
    slot_tags: List[str]  # one per kept word
    tokens: List[str]  # the kept words
    intent_logits: np.ndarray  # [C]
    slot_logits: np.ndarray  # [words, S]


class FastStudent:
    """The int8 TFLite student with its NumPy projection and label vocabularies.

    `num_threads=1`: a single query of a ~1M-parameter model is too small to split, a second
    thread only adds synchronisation. `max_interpreters`: input lengths kept allocated at once
    (least recently used first out; ~3 MB each with XNNPACK). `interpreter_class`: a TFLite
    `Interpreter` class (default: LiteRT's, else tflite_runtime's, else TensorFlow's). One
    instance per thread: the interpreters and the cache are not locked."""

    def __init__(
        self,
        tflite_model: bytes,
        intent_labels: Sequence[str],
        tag_labels: Sequence[str],
        student_config: Mapping[str, Any],
        num_threads: int = 1,
        max_interpreters: int = 24,
        cache_size: int = 50_000,
        interpreter_class: Any = None,
    ):
        projection = student_config["projection"]
        self.projection = NumpyProjection(
            projection["feature_size"],
            student_config["max_tokens"],
            projection["add_bos_eos"],
            cache_size,
            projection.get("prefix_features", 0),
            projection.get("prefix_chars", 4),
            projection.get("ngram_features", 0),
            projection.get("ngram_chars", 3),
            projection.get("case_features", 0),
        )
        self.intent_labels = list(intent_labels)
        self.tag_labels = list(tag_labels)
        self._model = tflite_model
        self._num_threads = num_threads
        self._max_interpreters = max_interpreters
        self.interpreter_class = interpreter_class or _interpreter_class()
        self._by_length: "OrderedDict[int, Tuple[Any, int, int, int]]" = OrderedDict()

    @classmethod
    def from_saved_model(cls, serving_dir: str, **kwargs: Any) -> "FastStudent":
        """From an exported student folder (`pqrnn.export.export_saved_model` + the int8 TFLite
        file in `assets.extra/`, as the Trainer writes it); a local path."""
        extra = os.path.join(serving_dir, TFLITE_DIR)
        with open(os.path.join(extra, TFLITE_FILE), "rb") as f:
            model = f.read()
        with open(os.path.join(extra, STUDENT_CONFIG_FILE), encoding="utf-8") as f:
            config = json.load(f)
        labels = []
        for name in (INTENT_VOCAB, SLOT_TAG_VOCAB):
            with open(vocab_file(extra, name), encoding="utf-8") as f:
                labels.append(f.read().split("\n")[:-1])  # one label per line, as export writes them
        return cls(model, labels[0], labels[1], config, **kwargs)

    def _runner(self, length: int) -> Tuple[Any, int, int, int]:
        entry = self._by_length.get(length)
        if entry is None:
            interpreter = self.interpreter_class(model_content=self._model, num_threads=self._num_threads)
            signature = interpreter.get_signature_runner()
            inputs, outputs = signature.get_input_details(), signature.get_output_details()
            features = inputs["features"]["index"]
            entry = (interpreter, features, outputs["intent_logits"]["index"], outputs["slot_logits"]["index"])
            del signature  # it holds tensor views, which forbid resizing
            interpreter.resize_tensor_input(features, [1, length, self.projection.feature_size])
            interpreter.allocate_tensors()
            self._by_length[length] = entry
            while len(self._by_length) > self._max_interpreters:
                self._by_length.popitem(last=False)
        else:
            self._by_length.move_to_end(length)
        return entry

    def encode(self, features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The int8 encoder on features [1, T, B]: intent logits [C], slot logits [T - 2, S]
        (T without BOS/EOS)."""
        interpreter, features_index, intent_index, slot_index = self._runner(features.shape[1])
        interpreter.set_tensor(features_index, features)
        interpreter.invoke()
        return interpreter.get_tensor(intent_index)[0], interpreter.get_tensor(slot_index)[0]

    def predict_words(self, words: Sequence[str]) -> Prediction:
        """A query given as word tokens (what `serve_tokens` takes)."""
        kept = list(words[: self.projection.max_words])
        intent_logits, slot_logits = self.encode(self.projection(kept))
        slot_logits = slot_logits[: len(kept)]
        return Prediction(
            intent=self.intent_labels[int(np.argmax(intent_logits))],
            slot_tags=[self.tag_labels[i] for i in bio.decode(slot_logits, self.tag_labels)],
            tokens=kept,
            intent_logits=intent_logits,
            slot_logits=slot_logits,
        )

    def __call__(self, text: "str | bytes") -> Prediction:
        """A raw query (what `serving_default` takes); bytes are read as UTF-8 with invalid
        sequences replaced by U+FFFD, as the SavedModel's tokenizer does."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return self.predict_words(split_words(text))


# ------------------------------------------------------------------ the device files
def device_projection_params(student_config: Mapping[str, Any]) -> Dict[str, Any]:
    """What `assets.extra/device_projection.json` holds: all a port of the projection needs
    (device/pqrnn_projection.h takes feature_size, max_tokens, add_bos_eos, prefix_features,
    prefix_chars, ngram_features, ngram_chars, case_features)."""
    projection = student_config["projection"]
    feature_size = projection["feature_size"]
    return {
        "hash_spec_version": HASH_SPEC_VERSION,
        "feature_size": feature_size,
        "max_tokens": student_config["max_tokens"],
        "add_bos_eos": bool(projection["add_bos_eos"]),
        "prefix_features": projection.get("prefix_features", 0),
        "prefix_chars": projection.get("prefix_chars", 4),
        "ngram_features": projection.get("ngram_features", 0),
        "ngram_chars": projection.get("ngram_chars", 3),
        "case_features": projection.get("case_features", 0),
        "prefix_mark_hex": PREFIX_MARK.hex(),
        "ngram_mark_hex": NGRAM_MARK.hex(),
        "case_mark_hex": CASE_MARK.hex(),
        "bos_token_hex": BOS_TOKEN.hex(),
        "eos_token_hex": EOS_TOKEN.hex(),
        "null_token_hex": NULL_TOKEN.hex(),
        "salts_hex": [SALT_SEPARATOR.hex() + f"{j:02x}" for j in range(math.ceil(feature_size / FIELDS_PER_HASH))],
        "fields_per_hash": FIELDS_PER_HASH,
        "hash": "farmhash_fingerprint64",
        "ternary": {"00": 0, "01": 1, "10": -1, "11": 0},
        "tflite_file": TFLITE_FILE,
        "tflite_input": "features",
        "tflite_outputs": ["intent_logits", "slot_logits"],
        "intent_vocab_file": os.path.basename(vocab_file("", INTENT_VOCAB)),
        "slot_tag_vocab_file": os.path.basename(vocab_file("", SLOT_TAG_VOCAB)),
        "slot_decoding": "bio",
    }


def pack_features(features: np.ndarray) -> List[str]:
    """Ternary features [T, B] as one hex string per row: 2 bits per feature, four per byte,
    first feature in the lowest bits; 0 -> 00, +1 -> 01, -1 -> 10 (the golden files' format)."""
    values = np.asarray(features).astype(np.int64)
    if values.shape[0] == 0:
        return []
    codes = np.where(values > 0, 1, np.where(values < 0, 2, 0)).astype(np.uint8)
    pad = (-codes.shape[1]) % 4
    codes = np.pad(codes, [(0, 0), (0, pad)]).reshape(codes.shape[0], -1, 4)
    packed = (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).astype(np.uint8)
    return [row.tobytes().hex() for row in packed]


def unpack_features(rows: Sequence[str], feature_size: int) -> np.ndarray:
    """The inverse of `pack_features`: int8 [T, feature_size]."""
    if not rows:
        return np.zeros((0, feature_size), np.int8)
    packed = np.stack([np.frombuffer(bytes.fromhex(r), np.uint8) for r in rows])
    codes = np.stack([(packed >> (2 * k)) & 3 for k in range(4)], -1).reshape(len(rows), -1)[:, :feature_size]
    return np.array([0, 1, -1, 0], np.int8)[codes]


# ------------------------------------------------------------------ command line
USAGE = "usage: python -m pqrnn.serving SERVING_DIR  (UTF-8 lines on stdin, one JSON prediction per line on stdout)"


def main(argv: Sequence[str] = ()) -> int:
    """`python -m pqrnn.serving SERVING_DIR`: each stdin line -> {"text", "intent",
    "intent_probability", "tokens", "slot_tags"} on stdout. Usage errors exit 2."""
    args = list(argv)
    if len(args) != 1 or args[0] in ("-h", "--help") or args[0].startswith("-"):
        if args in (["-h"], ["--help"]):
            print(USAGE)
            return 0
        print(USAGE, file=sys.stderr)
        return 2
    serving_dir = args[0]
    model_file = os.path.join(serving_dir, TFLITE_DIR, TFLITE_FILE)
    if not os.path.isfile(model_file):
        print(f"error: {model_file} not found: SERVING_DIR must be an exported student folder", file=sys.stderr)
        return 2
    student = FastStudent.from_saved_model(serving_dir)
    out = sys.stdout
    for line in sys.stdin.buffer:
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        prediction = student(text)
        logits = prediction.intent_logits.astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        record = {
            "text": text,
            "intent": prediction.intent,
            "intent_probability": round(float(probabilities.max() / probabilities.sum()), 6),
            "tokens": prediction.tokens,
            "slot_tags": prediction.slot_tags,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
