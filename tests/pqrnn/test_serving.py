"""The fast serving path (`pqrnn.serving`): FarmHash Fingerprint64 equals `tf.fingerprint`, the
NumPy projection equals the TF one bit for bit, and on a few hundred texts (Thai, Hindi,
punctuation, empty, over-long) the int8 TFLite student driven by it gives exactly what the
int8 model gives on the SavedModel's own projection, and agrees with the float SavedModel."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pqrnn import projection as tf_projection
from pqrnn.config import DistillationConfig
from pqrnn.data import ExampleDecoder, make_dataset
from pqrnn.export import export_saved_model, export_tflite_int8
from pqrnn.model import build_student
from pqrnn.projection import Projection
from pqrnn.serving import (
    DEVICE_GOLDEN_FILE,
    DEVICE_PROJECTION_FILE,
    HASH_SPEC_VERSION,
    FastStudent,
    NumpyProjection,
    fingerprint64,
    hash_features,
    unpack_features,
)
from schemas import bio
from schemas.features import INTENT_VOCAB, SLOT_TAG_VOCAB, TFLITE_DIR, TFLITE_FILE, vocab_file
from tests.device.cbuild import ROOT, CProjection, build_test_program
from tests.pqrnn.test_training import CONFIG, toy_rows, write_toy_dataset
from tokenization import tf_ops, words

EDGE_TEXTS = [
    "",
    "   ",
    "!!!",
    "?",
    "...,;:",
    "turn ON the KITCHEN light!!",
    "เปิดไฟในห้องนั่งเล่น",
    "ตั้งอุณหภูมิเป็น 25 องศา",
    "लिविंग रूम की बत्ती बंद करो",
    "पंखा चालू करो।",
    "把客厅的灯打开",
    "ΟΔΟΣ Σ σ ς",
    "İstanbul'da IŞIK",
    "Straße STRASSE ẞ",
    "schalte das Licht im Wohnzimmer aus",
    "émoji 😀 lamp 🔥🔥",
    "tab\tseparated\nnew line\u00a0nbsp",
    "a" * 70 + " " + "b" * 17 + " " + "c" * 40,
    " ".join(f"word{i}" for i in range(40)),  # beyond max_tokens: cut like the SavedModel
    "combining e\u0301 and \u0345 alone",
    "100% off - $5 @home #1",
]


def _random_text(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzÄÖÜäöüßéè .,!?-'ก่้ไฟหอนลิविंगरूम灯开ΣσΑ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def test_fingerprint64_equals_tf_fingerprint():
    rng = random.Random(0)
    samples = [bytes(rng.getrandbits(8) for _ in range(n)) for n in range(0, 200) for _ in range(2)]
    samples += [_random_text(rng).encode("utf-8") + b"\xff" + bytes([j]) for j in range(40)]
    samples += [bytes(range(256)), b"\xfebos\xff\x00", "बत्ती".encode()]
    digests = tf.fingerprint(tf.constant(samples)).numpy()
    for data, digest in zip(samples, digests):
        assert fingerprint64(data) == int.from_bytes(bytes(digest), "little"), data


@pytest.mark.parametrize("feature_size", [1024, 96, 30])
def test_hash_features_equal_tf(feature_size):
    tokens = [w.encode() for w in ["turn", "licht", "बत्ती", "ห้อง", "灯", "%", "a" * 70, "x" * 15, "é"]]
    expected = tf_projection.hash_features(tf.constant(tokens), feature_size).numpy()
    np.testing.assert_array_equal(hash_features(tokens, feature_size), expected)


@pytest.mark.parametrize(
    "add_bos_eos,prefix_features,ngram_features,case_features",
    [(True, 0, 0, 0), (False, 0, 0, 0), (True, 24, 0, 0), (True, 24, 16, 8)],
)
def test_projection_equals_tf_projection_on_raw_text(add_bos_eos, prefix_features, ngram_features, case_features):
    rng = random.Random(1)
    texts = EDGE_TEXTS + [_random_text(rng) for _ in range(100)]
    shape = dict(
        prefix_features=prefix_features,
        prefix_chars=3,
        ngram_features=ngram_features,
        ngram_chars=3,
        case_features=case_features,
    )
    reference = Projection(64, 12, add_bos_eos, **shape)
    # A tiny cache, so eviction happens on the way.
    fast = NumpyProjection(64, 12, add_bos_eos, cache_size=20, **shape)
    for text in texts:
        expected = reference(tf_ops.tokenize(tf.constant([text]))).numpy()
        np.testing.assert_array_equal(fast(words(text)), expected, err_msg=repr(text))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A student trained on the toy set (as tests/pqrnn/test_training.py does), exported like
    the Trainer: SavedModel + int8 TFLite in assets.extra/."""
    tf.keras.utils.set_random_seed(0)
    directory = str(tmp_path_factory.mktemp("toy"))
    _, intent_vocab, tag_vocab = write_toy_dataset(directory)
    projection = Projection.from_config(CONFIG)
    decoder = ExampleDecoder(projection, intent_vocab, tag_vocab, soft_labels=True)
    train = make_dataset(f"{directory}/Split-train/*.gz", decoder, batch_size=25, training=True, seed=0).cache()
    model = build_student(CONFIG, len(intent_vocab), len(tag_vocab))
    model.compile(tf.keras.optimizers.Adam(1e-2), distillation=DistillationConfig(temperature=2.0, gold_weight=0.5))
    model.fit(train, epochs=40, verbose=0)
    toy = [r["text"] for r in toy_rows(count=200, seed=11)]
    golden = toy[:10] + [toy[10].upper() + "!", ""]
    path = export_saved_model(model, intent_vocab, tag_vocab, f"{directory}/serving", golden_texts=golden)
    calibration = [projection(tf.ragged.constant([r["tokens"]])).numpy() for r in toy_rows(count=100, seed=3)]
    export_tflite_int8(model, calibration, f"{path}/{TFLITE_DIR}/{TFLITE_FILE}")
    queries = toy + [f"{text}{'!?'[i % 2]}" for i, text in enumerate(toy[:80])] + EDGE_TEXTS
    rng = random.Random(2)
    return path, queries, [_random_text(rng) for _ in range(80)]


def test_fast_student_equals_int8_model_on_tf_projection(exported):
    path, queries, gibberish = exported
    texts = queries + gibberish
    loaded = tf.saved_model.load(path)
    project = loaded.signatures["project_text"]
    with open(f"{path}/{TFLITE_DIR}/{TFLITE_FILE}", "rb") as f:
        interpreter = tf.lite.Interpreter(model_content=f.read())
    details = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    assert len(details) == 2
    # Few interpreters kept, so lengths are evicted and rebuilt on the way.
    fast = FastStudent.from_saved_model(path, max_interpreters=3)
    for text in texts:
        projected = project(text=tf.constant([text]))
        length = int(projected["num_tokens"][0]) + 2
        features = projected["features"].numpy()[:, :length]
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], features.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], features)
        interpreter.invoke()
        outputs = [interpreter.get_tensor(i)[0] for i in details.values()]
        intent_logits = next(o for o in outputs if o.ndim == 1)
        slot_logits = next(o for o in outputs if o.ndim == 2)
        got = fast(text)
        np.testing.assert_array_equal(got.intent_logits, intent_logits, err_msg=repr(text))
        np.testing.assert_array_equal(got.slot_logits, slot_logits, err_msg=repr(text))
        assert got.intent == fast.intent_labels[int(np.argmax(intent_logits))]
        assert len(got.slot_tags) == len(got.tokens) == length - 2


def test_fast_student_agrees_with_the_float_saved_model(exported):
    # int8 vs float: near-ties may flip, so agreement is judged on queries like the training
    # data's (plus the edge cases), not on random character soup.
    path, texts, _ = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    fast = FastStudent.from_saved_model(path)
    out = serve(text=tf.constant(texts))
    differ = []
    for i, text in enumerate(texts):
        n = int(out["num_tokens"][i])
        got = fast(text)
        assert got.tokens == [t.decode() for t in out["tokens"].numpy()[i][:n]], text
        tags = [t.decode() for t in out["slot_tags"].numpy()[i][:n]]
        if got.intent != out["intent"].numpy()[i].decode() or got.slot_tags != tags:
            differ.append(text)
    assert len(texts) >= 300 and len(differ) <= 0.01 * len(texts), differ


# ------------------------------------------------------------------ the device path
def _device_golden(path):
    with open(os.path.join(path, TFLITE_DIR, DEVICE_GOLDEN_FILE), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_serving_folder_holds_what_a_device_needs(exported, tmp_path):
    path = exported[0]
    extra = os.path.join(path, TFLITE_DIR)
    with open(os.path.join(extra, DEVICE_PROJECTION_FILE), encoding="utf-8") as f:
        params = json.load(f)
    assert params["hash_spec_version"] == HASH_SPEC_VERSION
    assert (params["feature_size"], params["max_tokens"], params["add_bos_eos"], params["ngram_features"]) == (
        CONFIG.projection.feature_size,
        CONFIG.max_tokens,
        CONFIG.projection.add_bos_eos,
        CONFIG.projection.ngram_features,
    )
    assert params["salts_hex"][0] == "ff00" and bytes.fromhex(params["bos_token_hex"]) == b"\xfebos"
    for name in (INTENT_VOCAB, SLOT_TAG_VOCAB, ""):
        assert os.path.isfile(vocab_file(extra, name) if name else os.path.join(extra, params["tflite_file"]))
    golden = _device_golden(path)
    assert len(golden) == 12
    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(text=tf.constant([g["text"] for g in golden]))
    fast = FastStudent.from_saved_model(path)
    projection = NumpyProjection(
        params["feature_size"],
        params["max_tokens"],
        params["add_bos_eos"],
        prefix_features=params["prefix_features"],
        prefix_chars=params["prefix_chars"],
        ngram_features=params["ngram_features"],
        ngram_chars=params["ngram_chars"],
        case_features=params["case_features"],
    )
    for i, g in enumerate(golden):
        assert g["intent"] == out["intent"].numpy()[i].decode() == fast.intent_labels[g["intent_id"]]
        n = int(out["num_tokens"][i])
        assert g["slot_tags"] == [t.decode() for t in out["slot_tags"].numpy()[i][:n]]
        assert g["slot_tags"] == [fast.tag_labels[t] for t in g["slot_tag_ids"]]
        expected = unpack_features(g["features"], params["feature_size"])
        np.testing.assert_array_equal(projection(words(g["text"]))[0], expected)
    # The C program checks the same golden vectors bit for bit.
    result = subprocess.run(
        [build_test_program(str(tmp_path)), os.path.join(extra, DEVICE_GOLDEN_FILE)], capture_output=True, text=True
    )
    assert result.returncode == 0 and "13 passed, 0 failed" in result.stdout, result.stderr


def test_c_projection_through_litert_gives_the_saved_model_answers(exported, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    path, queries, gibberish = exported
    with open(os.path.join(path, TFLITE_DIR, DEVICE_PROJECTION_FILE), encoding="utf-8") as f:
        params = json.load(f)
    project = CProjection(
        str(tmp_path),
        params["feature_size"],
        params["max_tokens"],
        params["add_bos_eos"],
        params["prefix_features"],
        params["prefix_chars"],
        params["ngram_features"],
        params["ngram_chars"],
        params["case_features"],
    )
    with open(os.path.join(path, TFLITE_DIR, TFLITE_FILE), "rb") as f:
        interpreter = Interpreter(model_content=f.read())
    fast = FastStudent.from_saved_model(path)

    def run(features):
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, features.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, features)
        interpreter.invoke()
        outputs = [interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()]
        return next(o for o in outputs if o.ndim == 1), next(o for o in outputs if o.ndim == 2)

    # The golden utterances: the answers the SavedModel gave at export.
    for g in _device_golden(path):
        features, kept = project(g["text"].encode("utf-8"))
        intent_logits, slot_logits = run(features)
        assert [w.decode() for w in kept] == g["words"]
        assert int(np.argmax(intent_logits)) == g["intent_id"], g["text"]
        assert bio.decode(slot_logits[: len(kept)], fast.tag_labels) == g["slot_tag_ids"], g["text"]
    # Any text: C + LiteRT computes exactly what the Python fast path does.
    for text in queries[::4] + gibberish[::4]:
        features, kept = project(text.encode("utf-8"))
        intent_logits, slot_logits = run(features)
        got = fast(text)
        assert [w.decode() for w in kept] == got.tokens
        np.testing.assert_array_equal(intent_logits, got.intent_logits, err_msg=repr(text))
        np.testing.assert_array_equal(slot_logits, got.slot_logits, err_msg=repr(text))


def _python(*args, stdin=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, cwd=ROOT, env=env, timeout=300)


def test_fast_student_needs_no_tensorflow(exported):
    code = (
        "import sys; from pqrnn.serving import FastStudent; "
        f"FastStudent.from_saved_model({exported[0]!r})('turn on the light'); "
        "print('tensorflow' in sys.modules)"
    )
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().strip() == "False"


def test_serve_command(exported):
    path = exported[0]
    texts = [g["text"] for g in _device_golden(path)]
    result = _python("-m", "pqrnn.serving", path, stdin="\n".join(texts).encode() + b"\n\xff\xfe x\n")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(lines) == len(texts) + 1
    fast = FastStudent.from_saved_model(path)
    for text, line in zip(texts + ["\ufffd\ufffd x"], lines):
        got = fast(text)
        assert (line["text"], line["intent"], line["tokens"], line["slot_tags"]) == (
            text,
            got.intent,
            got.tokens,
            got.slot_tags,
        )
        assert 0 < line["intent_probability"] <= 1
    for args in ([], [path, "extra"], ["--bogus"], [str(ROOT)]):
        result = _python("-m", "pqrnn.serving", *args, stdin=b"")
        assert result.returncode == 2, args
        assert len(result.stderr.decode().strip().splitlines()) == 1, result.stderr
