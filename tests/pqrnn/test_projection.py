"""Projection: bit mapping against an independent FarmHash/NumPy re-implementation,
determinism, markers, truncation, distortion, and graph/eager/tf.data agreement."""

import numpy as np
import tensorflow as tf

from pqrnn.hash_spec import CASE_MARK, NGRAM_MARK, PREFIX_MARK
from pqrnn.projection import BOS_TOKEN, EOS_TOKEN, NULL_TOKEN, Projection, distort, token_mask

# ---------------------------------------------------------------- FarmHash Fingerprint64
# Written from the FarmHash specification (farmhashna::Hash64), independent of TF.
_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _f64(s, i):
    return int.from_bytes(s[i : i + 8], "little")


def _f32(s, i):
    return int.from_bytes(s[i : i + 4], "little")


def _ror(v, r):
    return v if r == 0 else ((v >> r) | (v << (64 - r))) & _M


def _h16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _weak(s, i, a, b):
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M
    b = _ror((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _ror(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def farmhash64(s: bytes) -> int:
    n = len(s)
    mul = (_K2 + n * 2) & _M
    if n <= 16:
        if n >= 8:
            a = (_f64(s, 0) + _K2) & _M
            b = _f64(s, n - 8)
            c = (_ror(b, 37) * mul + a) & _M
            d = ((_ror(a, 25) + b) * mul) & _M
            return _h16(c, d, mul)
        if n >= 4:
            return _h16((n + (_f32(s, 0) << 3)) & _M, _f32(s, n - 4), mul)
        if n > 0:
            y = s[0] + (s[n >> 1] << 8)
            z = n + (s[n - 1] << 2)
            v = ((y * _K2) & _M) ^ ((z * _K0) & _M)
            return ((v ^ (v >> 47)) * _K2) & _M
        return _K2
    if n <= 32:
        a = (_f64(s, 0) * _K1) & _M
        b = _f64(s, 8)
        c = (_f64(s, n - 8) * mul) & _M
        d = (_f64(s, n - 16) * _K2) & _M
        return _h16((_ror((a + b) & _M, 43) + _ror(c, 30) + d) & _M, (a + _ror((b + _K2) & _M, 18) + c) & _M, mul)
    if n <= 64:
        a = (_f64(s, 0) * _K2) & _M
        b = _f64(s, 8)
        c = (_f64(s, n - 8) * mul) & _M
        d = (_f64(s, n - 16) * _K2) & _M
        y = (_ror((a + b) & _M, 43) + _ror(c, 30) + d) & _M
        z = _h16(y, (a + _ror((b + _K2) & _M, 18) + c) & _M, mul)
        e = (_f64(s, 16) * mul) & _M
        f = _f64(s, 24)
        g = ((y + _f64(s, n - 32)) * mul) & _M
        h = ((z + _f64(s, n - 24)) * mul) & _M
        return _h16((_ror((e + f) & _M, 43) + _ror(g, 30) + h) & _M, (e + _ror((f + a) & _M, 18) + g) & _M, mul)
    x, y = 81, (81 * _K1 + 113) & _M
    z = y * _K2 + 113 & _M
    z = ((z ^ (z >> 47)) * _K2) & _M
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _f64(s, 0)) & _M
    end, i = ((n - 1) // 64) * 64, 0
    while True:
        x = (_ror((x + y + v[0] + _f64(s, i + 8)) & _M, 37) * _K1) & _M
        y = (_ror((y + v[1] + _f64(s, i + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _f64(s, i + 40)) & _M
        z = (_ror((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak(s, i, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak(s, i + 32, (z + w[1]) & _M, (y + _f64(s, i + 16)) & _M)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M
    i = n - 64
    w0 = (w[0] + ((n - 1) & 63)) & _M
    v = ((v[0] + w0) & _M, v[1])
    w = ((w0 + v[0]) & _M, w[1])
    x = (_ror((x + y + v[0] + _f64(s, i + 8)) & _M, 37) * mul) & _M
    y = (_ror((y + v[1] + _f64(s, i + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _f64(s, i + 40)) & _M
    z = (_ror((z + w[0]) & _M, 33) * mul) & _M
    v = _weak(s, i, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak(s, i + 32, (z + w[1]) & _M, (y + _f64(s, i + 16)) & _M)
    z, x = x, z
    return _h16((_h16(v[0], w[0], mul) + (y ^ (y >> 47)) * _K0 + z) & _M, (_h16(v[1], w[1], mul) + x) & _M, mul)


def numpy_features(token: bytes, feature_size: int) -> np.ndarray:
    """The documented projection: 2-bit fields of salted fingerprints, 00->0 01->+1 10->-1 11->0."""
    words = -(-feature_size // 32)
    codes = [farmhash64(token + b"\xff" + bytes([j])) for j in range(words)]
    fields = np.array([(code >> (2 * i)) & 3 for code in codes for i in range(32)])
    return np.select([fields == 1, fields == 2], [1.0, -1.0], 0.0)[:feature_size]


def test_fingerprint_reimplementation_covers_every_length_branch():
    samples = [b"", b"a", b"abc", b"abcd", b"0123456789", b"x" * 17, b"y" * 40, b"z" * 64, bytes(range(200))]
    got = tf.fingerprint(tf.constant(samples)).numpy()
    for s, digest in zip(samples, got):
        assert int.from_bytes(bytes(digest), "little") == farmhash64(s), len(s)


def test_features_match_numpy_reimplementation():
    tokens = ["Turn", "LIGHT", "wohnzimmer", "बत्ती", "ห้อง", "灯", "%", "", "a" * 70]
    projection = Projection(feature_size=96, max_tokens=16, add_bos_eos=True)
    features = projection(tf.ragged.constant([tokens])).numpy()[0]
    expected = [BOS_TOKEN] + [t.lower().encode() if t else NULL_TOKEN for t in tokens] + [EOS_TOKEN]
    assert features.shape == (len(expected), 96)
    for row, token in zip(features, expected):
        np.testing.assert_array_equal(row, numpy_features(token, 96))


def test_prefix_features_hash_the_first_characters_of_each_word():
    tokens = tf.ragged.constant([["Alarms", "alarm", "wecker", "ab", ""]])
    plain = Projection(feature_size=64, max_tokens=8)(tokens).numpy()[0]
    features = Projection(feature_size=64, max_tokens=8, prefix_features=32, prefix_chars=4)(tokens).numpy()[0]
    # BOS, alarms, alarm, wecker, ab, NULL, EOS: the whole-word part and the markers are unchanged.
    np.testing.assert_array_equal(features[:, :32], plain[:, :32])
    np.testing.assert_array_equal(features[[0, 5, 6]], plain[[0, 5, 6]])
    np.testing.assert_array_equal(features[1, 32:], features[2, 32:])  # "alar"
    np.testing.assert_array_equal(features[1, 32:], numpy_features(PREFIX_MARK + b"alar", 32))
    np.testing.assert_array_equal(features[4, 32:], numpy_features(PREFIX_MARK + b"ab", 32))
    assert (features[3, 32:] != features[1, 32:]).any()


def test_ngram_features_are_the_sign_of_the_summed_hashes_of_each_words_character_ngrams():
    tokens = tf.ragged.constant([["Storm", "thunderstorm", "a", "", "ab"]])
    plain = Projection(feature_size=96, max_tokens=8, prefix_features=32)(tokens).numpy()[0]
    features = Projection(feature_size=96, max_tokens=8, prefix_features=32, ngram_features=32)(tokens).numpy()[0]
    # BOS, storm, thunderstorm, a, NULL, ab, EOS: the word and prefix parts and the markers are unchanged.
    np.testing.assert_array_equal(features[:, :32], plain[:, :32])
    np.testing.assert_array_equal(features[:, 64:], plain[:, 64:])
    np.testing.assert_array_equal(features[[0, 4, 6]], plain[[0, 4, 6]])

    def bag(word, n=3):
        padded = f" {word} "
        grams = [padded[i : i + n] for i in range(len(padded) - n + 1)] or [padded]
        return np.sign(sum(numpy_features(NGRAM_MARK + g.encode(), 32) for g in grams))

    for row, word in ((1, "storm"), (2, "thunderstorm"), (3, "a"), (5, "ab")):
        np.testing.assert_array_equal(features[row, 32:64], bag(word))
    # Words that share pieces share features: "storm" is nearer "thunderstorm" than "weather".
    wide = Projection(feature_size=512, max_tokens=8, add_bos_eos=False, ngram_features=512)
    storm, thunder, weather = wide.ngram_bag(tf.constant(["storm", "thunderstorm", "weather"])).numpy()
    assert storm @ thunder > 0.2 * np.linalg.norm(storm) * np.linalg.norm(thunder) > abs(storm @ weather)


def test_ternary_distribution_and_determinism():
    projection = Projection(feature_size=512, max_tokens=8, add_bos_eos=False)
    tokens = tf.ragged.constant([[f"tok{i}" for i in range(6)] for _ in range(50)])
    a = projection(tokens).numpy()
    b = projection(tokens).numpy()
    np.testing.assert_array_equal(a, b)
    values = a.reshape(-1)
    assert set(np.unique(values)) == {-1.0, 0.0, 1.0}
    assert abs(np.mean(values == 0) - 0.5) < 0.03 and abs(np.mean(values == 1) - 0.25) < 0.03


def test_truncation_markers_and_mask():
    projection = Projection(feature_size=64, max_tokens=5, add_bos_eos=True)
    features = projection(tf.ragged.constant([["a", "b", "c", "d", "e"], ["a"], []]))
    assert features.shape == (3, 5, 64)  # 3 words kept + BOS/EOS
    np.testing.assert_array_equal(token_mask(features).numpy(), [[1] * 5, [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    # EOS follows the last kept word wherever the row ends.
    np.testing.assert_array_equal(features[0, 4], features[2, 1])
    np.testing.assert_array_equal(features[0, 1], features[1, 1])


def test_same_features_eager_in_tf_function_and_in_dataset():
    projection = Projection(feature_size=128, max_tokens=12, add_bos_eos=True, distortion_probability=0.5)
    tokens = tf.ragged.constant([["Bonjour", "Éric", "!"], ["नमस्ते"]])
    eager = projection(tokens).numpy()
    graph = tf.function(lambda t: projection(t))(tokens).numpy()
    ds = tf.data.Dataset.from_tensors(tokens).map(lambda t: projection(t, training=False))
    np.testing.assert_array_equal(eager, graph)
    np.testing.assert_array_equal(eager, next(iter(ds)).numpy())


def _one_edit(before: str, after: str) -> bool:
    if len(after) == len(before) - 1:
        return any(before[:i] + before[i + 1 :] == after for i in range(len(before)))
    if len(after) == len(before) + 1:
        return any(after[:i] + after[i + 1 :] == before for i in range(len(after)))
    return len(after) == len(before) and sorted(after) == sorted(before)  # a move


def test_distortion_is_one_character_edit():
    words = ["hello", "wohnzimmer", "बत्ती", "x", ""]
    changed = 0
    for seed in range(8):
        out = [w.decode() for w in distort(tf.constant(words), 1.0, seed=seed).numpy()]
        assert out[-1] == ""
        for before, after in zip(words, out):
            assert _one_edit(before, after), (before, after)
            changed += before != after
    assert changed > 16
    assert [w.decode() for w in distort(tf.constant(words), 0.0).numpy()] == words


def test_distortion_only_in_training():
    projection = Projection(feature_size=64, max_tokens=8, distortion_probability=1.0)
    tokens = tf.ragged.constant([["lights", "kitchen", "bedroom"]])
    np.testing.assert_array_equal(projection(tokens).numpy(), projection(tokens, training=False).numpy())
    assert not np.array_equal(projection(tokens, training=True, seed=3).numpy(), projection(tokens).numpy())


def test_case_features_hash_the_case_shape_as_written():
    shapes = Projection.case_shapes(tf.constant(["Toronto", "UCLA", "toronto", "mcD", "", "Σ", "a\x00B", "1"]))
    assert shapes.numpy().tolist() == [b"\x01", b"\x03", b"\x00", b"\x02", b"\x00", b"\x01", b"\x00", b"\x00"]
    tokens = tf.ragged.constant([["Toronto", "toronto", "Paris", "paris"]])
    plain = Projection(feature_size=96, max_tokens=8, prefix_features=32)(tokens).numpy()[0]
    features = Projection(feature_size=96, max_tokens=8, prefix_features=32, case_features=32)(tokens).numpy()[0]
    # BOS, Toronto, toronto, Paris, paris, EOS: only the case part differs from plain features.
    np.testing.assert_array_equal(features[:, :32], plain[:, :32])
    np.testing.assert_array_equal(features[:, 64:], plain[:, 64:])
    np.testing.assert_array_equal(features[1, 32:64], numpy_features(CASE_MARK + b"\x01", 32))
    np.testing.assert_array_equal(features[2, 32:64], numpy_features(CASE_MARK + b"\x00", 32))
    np.testing.assert_array_equal(features[1, 32:64], features[3, 32:64])  # capitalised words share it
