"""The C tokenizer and projection of device/ (what an app links): its Unicode tables are
those the Python rule reads, and on the golden vectors written by the TensorFlow path
(device/golden/projection.jsonl: en/de/es/fr/hi/th, empty, over max_tokens, emoji, combining
marks, final sigma, NUL, U+200B, invalid UTF-8) it computes the same words and every feature
bit for bit; so does the NumPy port of pqrnn.serving."""

import json
import os
import subprocess
import sys

import numpy as np

from pqrnn.serving import NumpyProjection, unpack_features
from tests.device.cbuild import DEVICE, ROOT, CProjection, build_test_program
from tokenization import words

GOLDEN = os.path.join(DEVICE, "golden", "projection.jsonl")


def _golden():
    with open(GOLDEN, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_unicode_tables_are_generated_from_python():
    check = [sys.executable, os.path.join(DEVICE, "gen_unicode_tables.py"), "--check"]
    result = subprocess.run(check, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_golden_covers_the_cases():
    rows = _golden()
    assert len(rows) >= 300
    assert {"en", "de", "es", "fr", "hi", "th", "edge", "random_bytes"} <= {r["lang"] for r in rows}
    texts = [bytes.fromhex(r["text_hex"]) for r in rows]
    assert b"" in texts and any(b"\xe2\x80\x8b" in t for t in texts) and any(b"\x00" in t for t in texts)
    invalid = 0
    for t in texts:
        try:
            t.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
    assert invalid >= 10
    assert any(r["add_bos_eos"] and len(r["tokens_hex"]) == r["max_tokens"] - 2 for r in rows)  # cut
    assert {(r["feature_size"], r["max_tokens"]) for r in rows} >= {(64, 16), (1024, 64), (100, 8)}


def test_c_program_matches_golden_bit_for_bit(tmp_path):
    binary = build_test_program(str(tmp_path))
    result = subprocess.run([binary, GOLDEN], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{len(_golden()) + 1} passed, 0 failed" in result.stdout


def test_c_library_words_and_features(tmp_path):
    rows = [r for r in _golden() if r["feature_size"] == 64]
    shapes = ((0, 0, 0), (24, 0, 0), (24, 20, 8))
    projections = {(p, g, k): CProjection(str(tmp_path), 64, 16, True, p, 3, g, 3, k) for p, g, k in shapes}
    assert {(r["prefix_features"], r["ngram_features"], r["case_features"]) for r in rows} == set(projections)
    for row in rows:
        project = projections[row["prefix_features"], row["ngram_features"], row["case_features"]]
        text = bytes.fromhex(row["text_hex"])
        features, kept = project(text)
        expected_words = words(text.decode("utf-8", "replace"))[: len(row["tokens_hex"])]
        assert [w.decode("utf-8", "replace") for w in kept] == expected_words, text
        np.testing.assert_array_equal(features[0], unpack_features(row["features"], 64), err_msg=repr(text))


def test_numpy_projection_matches_golden():
    for row in _golden():
        projection = NumpyProjection(
            row["feature_size"],
            row["max_tokens"],
            bool(row["add_bos_eos"]),
            prefix_features=row["prefix_features"],
            prefix_chars=row["prefix_chars"],
            ngram_features=row["ngram_features"],
            ngram_chars=row["ngram_chars"],
            case_features=row["case_features"],
        )
        text = bytes.fromhex(row["text_hex"]).decode("utf-8", "replace")
        expected = unpack_features(row["features"], row["feature_size"])
        kept = words(text)[: projection.max_words]
        assert [t.hex() for t in projection.tokens(kept)[1 if row["add_bos_eos"] else 0 :][: len(kept)]] == row[
            "tokens_hex"
        ]
        got = projection(kept)[0]
        np.testing.assert_array_equal(got.reshape(-1, row["feature_size"]), expected, err_msg=repr(text))


def test_golden_file_is_what_the_tf_path_writes():
    sys.path.insert(0, DEVICE)
    try:
        import make_golden
    finally:
        sys.path.remove(DEVICE)
    assert make_golden.records() == _golden()
