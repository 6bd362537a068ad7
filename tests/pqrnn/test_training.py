"""End to end on a 50-example toy set written in the dataset job's format: train from
gzipped tf.Examples (soft + gold labels, augmented rows), overfit, export a SavedModel
served from a fresh process, and an int8 TFLite that agrees with the float model."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pqrnn.config import DistillationConfig, ProjectionConfig, QRNNConfig, StudentConfig
from pqrnn.data import ExampleDecoder, make_dataset
from pqrnn.export import export_saved_model, export_tflite_int8, pad_features
from pqrnn.model import build_student
from pqrnn.projection import Projection
from tokenization import words

TEMPLATES = {
    "HassTurnOn": [("turn on the {device} in the {area}", "en"), ("schalte das {device} im {area} ein", "de")],
    "HassTurnOff": [("switch off the {device} in the {area} please", "en"), ("mach das {device} aus", "de")],
    "HassClimateSetTemperature": [
        ("set the {area} to {temperature} degrees", "en"),
        ("stelle {temperature} grad ein", "de"),
    ],
    "HassGetWeather": [
        ("what's the weather like in {area}?", "en"),
        ("wie ist das wetter in {area}", "de"),
        ("will it be {temperature} degrees in the {area}", "en"),
    ],
    "HassLockDoor": [("lock the {device} of the {area}", "en"), ("tür {device} abschließen", "de")],
}
VALUES = {
    "device": ["light", "lamp", "fan", "tv", "door", "heater", "radio"],
    "area": ["kitchen", "garage", "bedroom", "office", "garden", "küche", "bad", "flur"],
    "temperature": ["18", "20", "21", "23", "25"],
}


def toy_rows(count=50, seed=0, exclude=()):
    rng = np.random.default_rng(seed)
    rows, seen = [], set(exclude)
    intents = sorted(TEMPLATES)
    while len(rows) < count:
        intent = intents[len(rows) % len(intents)]
        template, lang = TEMPLATES[intent][rng.integers(len(TEMPLATES[intent]))]
        tokens, tags = [], []
        for piece in template.split(" "):
            if piece.startswith("{"):
                slot = piece.strip("{}?")
                value = VALUES[slot][rng.integers(len(VALUES[slot]))]
                tokens.append(value)
                tags.append(f"B-{slot}")
                if piece.endswith("?"):
                    tokens.append("?")
                    tags.append("O")
            else:
                piece_words = words(piece)
                tokens += piece_words
                tags += ["O"] * len(piece_words)
        text = " ".join(tokens)
        if text not in seen:
            seen.add(text)
            rows.append({"text": text, "tokens": tokens, "tags": tags, "intent": intent, "lang": lang})
    return rows


def write_toy_dataset(directory):
    rows = toy_rows()
    intent_vocab = sorted({r["intent"] for r in rows})
    tag_vocab = ["O"] + sorted({t for r in rows for t in r["tags"]} - {"O"})
    rng = np.random.default_rng(1)
    os.makedirs(os.path.join(directory, "Split-train"))
    path = os.path.join(directory, "Split-train", "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for i, row in enumerate(rows):
            augmented = i % 5 == 4  # every fifth row has teacher labels only
            teacher_intent = 4.0 * np.eye(len(intent_vocab))[intent_vocab.index(row["intent"])]
            teacher_slots = 4.0 * np.eye(len(tag_vocab))[[tag_vocab.index(t) for t in row["tags"]]]
            feature = {
                "id": [str(i).encode()],
                "lang": [row["lang"].encode()],
                "text": [row["text"].encode()],
                "tokens": [t.encode() for t in row["tokens"]],
                "intent": [b"" if augmented else row["intent"].encode()],
                "slot_tags": [] if augmented else [t.encode() for t in row["tags"]],
                "group_id": [b"g"],
                "source": [b"toy"],
                "aug_method": [b"toy" if augmented else b""],
            }
            ex = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        **{k: tf.train.Feature(bytes_list=tf.train.BytesList(value=v)) for k, v in feature.items()},
                        "augmented": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(augmented)])),
                        "teacher_intent_logits": tf.train.Feature(
                            float_list=tf.train.FloatList(
                                value=teacher_intent + rng.normal(0, 0.3, teacher_intent.shape)
                            )
                        ),
                        "teacher_slot_logits": tf.train.Feature(
                            float_list=tf.train.FloatList(
                                value=(teacher_slots + rng.normal(0, 0.3, teacher_slots.shape)).reshape(-1)
                            )
                        ),
                    }
                )
            )
            writer.write(ex.SerializeToString())
    return rows, intent_vocab, tag_vocab


CONFIG = StudentConfig(
    projection=ProjectionConfig(
        feature_size=128,
        add_bos_eos=True,
        distortion_probability=0.0,
        prefix_features=32,
        ngram_features=32,
        case_features=16,
    ),
    bottleneck_size=32,
    qrnn=QRNNConfig(state_size=32, num_layers=2, kernel_width=3, zoneout_probability=0.1),
    max_tokens=16,
    quantize=True,
    batch_norm_momentum=0.9,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tf.keras.utils.set_random_seed(0)
    directory = str(tmp_path_factory.mktemp("toy"))
    rows, intent_vocab, tag_vocab = write_toy_dataset(directory)
    decoder = ExampleDecoder(Projection.from_config(CONFIG), intent_vocab, tag_vocab, soft_labels=True)
    pattern = os.path.join(directory, "Split-train", "*.gz")
    train = make_dataset(pattern, decoder, batch_size=25, training=True, seed=0).cache()
    model = build_student(CONFIG, len(intent_vocab), len(tag_vocab))
    model.compile(tf.keras.optimizers.Adam(1e-2), distillation=DistillationConfig(temperature=2.0, gold_weight=0.5))
    model.fit(train, epochs=int(os.environ.get("PQRNN_TOY_EPOCHS", "40")), verbose=0)
    return {
        "model": model,
        "rows": rows,
        "intent_vocab": intent_vocab,
        "tag_vocab": tag_vocab,
        "dir": directory,
        "pattern": pattern,
        "decoder": decoder,
    }


def _predictions(model, features):
    out = model(features, training=False)
    return np.argmax(out["intent_logits"], -1), np.argmax(out["slot_logits"], -1)


def test_overfits_toy_set(trained):
    rows, model = trained["rows"], trained["model"]
    features = Projection.from_config(CONFIG)(tf.ragged.constant([r["tokens"] for r in rows]))
    intents, slots = _predictions(model, features)
    assert [trained["intent_vocab"][i] for i in intents] == [r["intent"] for r in rows]
    for row, predicted in zip(rows, slots):
        assert [trained["tag_vocab"][t] for t in predicted[: len(row["tokens"])]] == row["tags"]
    metrics = model.evaluate(
        make_dataset(trained["pattern"], trained["decoder"], 50, training=False), return_dict=True, verbose=0
    )
    assert metrics["intent_accuracy"] == 1.0 and metrics["slot_accuracy"] == 1.0


FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.stdin.read())
out = loaded.signatures["serving_default"](text=tf.constant(texts))
tok = loaded.signatures["serve_tokens"](tokens=out["tokens"], num_tokens=out["num_tokens"])
examples = [tf.train.Example(features=tf.train.Features(feature={"tokens": tf.train.Feature(
    bytes_list=tf.train.BytesList(value=list(row[:n])))})).SerializeToString()
    for row, n in zip(out["tokens"].numpy(), out["num_tokens"].numpy())]
ex = loaded.signatures["serve_examples"](examples=tf.constant(examples))
assert not any(m.split(".")[0] in ("pqrnn", "tokenization", "pipeline") for m in sys.modules)
print(json.dumps({
    "intent": [x.decode() for x in out["intent"].numpy()],
    "slot_tags": [[t.decode() for t in row] for row in out["slot_tags"].numpy()],
    "tokens": [[t.decode() for t in row] for row in out["tokens"].numpy()],
    "probabilities": out["intent_probabilities"].numpy().tolist(),
    "token_probabilities": tok["intent_probabilities"].numpy().tolist(),
    "example_probabilities": ex["intent_probabilities"].numpy().tolist(),
}))
"""


def test_saved_model_serves_raw_text_from_a_fresh_process(trained, tmp_path):
    rows, model = trained["rows"], trained["model"]
    path = export_saved_model(model, trained["intent_vocab"], trained["tag_vocab"], str(tmp_path / "saved"))
    texts = [r["text"] for r in rows] + ["", "set   the garden to 21 degrees!!"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, path],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=env,
        timeout=300,
        check=True,
    )
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    assert served["intent"][:50] == [r["intent"] for r in rows]
    for i, row in enumerate(rows):
        n = len(row["tokens"])
        assert served["tokens"][i][:n] == row["tokens"] and served["slot_tags"][i][:n] == row["tags"]
        assert all(t == "" for t in served["slot_tags"][i][n:])
    assert served["slot_tags"][50] == [] or all(t == "" for t in served["slot_tags"][50])
    # Serving (tokenise + project in the graph) gives the training pipeline's numbers.
    files = sorted(tf.io.gfile.glob(trained["pattern"]))
    first_rows = next(iter(tf.data.TFRecordDataset(files, compression_type="GZIP").batch(50)))
    features, _ = trained["decoder"](first_rows)
    expected = tf.nn.softmax(model(features)["intent_logits"]).numpy()
    np.testing.assert_allclose(np.array(served["probabilities"][:50]), expected, atol=1e-5)
    np.testing.assert_allclose(served["token_probabilities"], served["probabilities"], atol=1e-6)
    np.testing.assert_allclose(served["example_probabilities"], served["probabilities"], atol=1e-6)


def test_int8_tflite_agrees_with_float_model(trained, tmp_path):
    rows, model = trained["rows"], trained["model"]
    projection = Projection.from_config(CONFIG)
    calibration = [projection(tf.ragged.constant([r["tokens"]])).numpy() for r in rows]
    flatbuffer = export_tflite_int8(model, calibration, str(tmp_path / "student.tflite"))
    assert os.path.getsize(tmp_path / "student.tflite") == len(flatbuffer)

    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    weight_types = {
        d["dtype"] for d in interpreter.get_tensor_details() if d["name"].endswith("kernel") or "conv1d" in d["name"]
    }
    assert np.int8 in weight_types
    # Training rows plus unseen utterances from the same templates.
    unseen = toy_rows(count=75, seed=11, exclude={r["text"] for r in rows})
    sample = [r["tokens"] for r in rows + unseen]
    features = pad_features(projection(tf.ragged.constant(sample)).numpy(), CONFIG.max_tokens)
    lite = runner(features=features)
    intents, slots = _predictions(model, tf.constant(features))
    intent_agreement = np.mean(np.argmax(lite["intent_logits"], -1) == intents)
    valid = np.array([[j < len(s) for j in range(slots.shape[1])] for s in sample])
    slot_agreement = np.mean((np.argmax(lite["slot_logits"], -1) == slots)[valid])
    assert intent_agreement >= 0.99 and slot_agreement >= 0.99, (intent_agreement, slot_agreement)
