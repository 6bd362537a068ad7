"""Exports: a SavedModel that serves raw text / tokens / tf.Examples, and an int8 TFLite encoder.

SavedModel signatures (load with plain `tf.saved_model.load`; only stock TF ops inside):
  serving_default(text: string [b])                         raw UTF-8 utterances
  serve_tokens(tokens: string [b, n], num_tokens: int32 [b]) pre-tokenised words
  serve_examples(examples: string [b])                      serialized tf.Example (`tokens`)
each returning intent (string [b]), intent_probabilities [b, C], slot_tags (string [b, W],
"" past a row's words), tokens (string [b, W]), num_tokens (int32 [b]), intent_logits,
slot_logits; and
  project_text(text: string [b]) -> features [b, max_tokens, B], num_tokens
which is the projection the TFLite encoder expects as input. Label vocabularies and the
student config are also written to `assets.extra/`, and for an app on a device (see
device/README.md) the projection's parameters (`device_projection.json`) and golden vectors
of this model (`device_golden.jsonl`: per utterance its features as `project_text` computes
them and the intent and BIO slot tags `serving_default` answers).

TFLite: the string hashing is not expressible in TFLite builtins, so the int8 model is the
encoder only (features -> intent_logits, slot_logits) with builtin int8 kernels; the
projection runs before it (`project_text`, or any port of the documented hash, such as
`pqrnn.serving`, the NumPy fast path that serves raw text with this file and no TensorFlow). Weights are
per-channel int8, activations int8 calibrated on representative features; inputs and
outputs stay float32 so clients need no (de)quantization parameters.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from pqrnn.decoding import bio_decode
from pqrnn.hash_spec import NULL_TOKEN
from pqrnn.model import PQRNNStudent
from pqrnn.projection import Projection
from pqrnn.serving import (
    DEVICE_GOLDEN_FILE,
    DEVICE_PROJECTION_FILE,
    STUDENT_CONFIG_FILE,
    device_projection_params,
    pack_features,
)
from schemas.features import INTENT_VOCAB, SLOT_TAG_VOCAB, TFLITE_DIR, vocab_file
from tokenization import tf_ops


def pad_features(features: np.ndarray, max_tokens: int) -> np.ndarray:
    """Zero-pad (or cut) features [b, T, B] to [b, max_tokens, B] (zeros are padding)."""
    features = np.asarray(features, dtype=np.float32)[:, :max_tokens]
    return np.pad(features, [(0, 0), (0, max_tokens - features.shape[1]), (0, 0)])


class StudentServer(tf.Module):
    """The student with its projection, tokenizer and label vocabularies, as a tf.Module."""

    def __init__(self, model: PQRNNStudent, intent_vocab: Sequence[str], tag_vocab: Sequence[str]):
        super().__init__()
        if len(intent_vocab) != model.num_intents or len(tag_vocab) != model.num_tags:
            raise ValueError("vocabulary sizes do not match the model's heads")
        self.model = model
        self.projection = Projection.from_config(model.student_config)
        self.intent_labels = tf.constant(list(intent_vocab))
        self.tag_vocab = list(tag_vocab)
        self.tag_labels = tf.constant(self.tag_vocab)
        b = model.student_config.projection.feature_size
        self.serving_default = tf.function(self._serve_text, input_signature=[tf.TensorSpec([None], tf.string, "text")])
        self.serve_tokens = tf.function(
            self._serve_tokens,
            input_signature=[
                tf.TensorSpec([None, None], tf.string, "tokens"),
                tf.TensorSpec([None], tf.int32, "num_tokens"),
            ],
        )
        self.serve_examples = tf.function(
            self._serve_examples, input_signature=[tf.TensorSpec([None], tf.string, "examples")]
        )
        self.project_text = tf.function(self._project_text, input_signature=[tf.TensorSpec([None], tf.string, "text")])
        self.feature_size = b

    def predict(self, tokens: tf.RaggedTensor) -> Dict[str, tf.Tensor]:
        tokens = tokens[:, : self.projection.max_words]
        out = self.model(self.projection(tokens, training=False), training=False)
        slot_logits = out["slot_logits"]
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        width = tf.shape(slot_logits)[1]
        words = tokens.to_tensor("")[:, :width]
        words = tf.pad(words, [[0, 0], [0, width - tf.shape(words)[1]]])
        is_word = tf.sequence_mask(lengths, width)
        tags = tf.gather(self.tag_labels, bio_decode(slot_logits, lengths, self.tag_vocab))
        return {
            "intent": tf.gather(self.intent_labels, tf.argmax(out["intent_logits"], -1)),
            "intent_probabilities": tf.nn.softmax(out["intent_logits"], -1),
            "slot_tags": tf.where(is_word, tags, ""),
            "tokens": words,
            "num_tokens": lengths,
            "intent_logits": out["intent_logits"],
            "slot_logits": slot_logits,
        }

    def _serve_text(self, text):
        return self.predict(tf_ops.tokenize(text))

    def _serve_tokens(self, tokens, num_tokens):
        return self.predict(tf.RaggedTensor.from_tensor(tokens, lengths=num_tokens))

    def _serve_examples(self, examples):
        parsed = tf.io.parse_example(examples, {"tokens": tf.io.RaggedFeature(tf.string)})
        return self.predict(parsed["tokens"])

    def _project_text(self, text):
        tokens = tf_ops.tokenize(text)[:, : self.projection.max_words]
        features = self.projection(tokens, training=False)
        max_tokens = self.projection.max_tokens
        features = tf.pad(features, [[0, 0], [0, max_tokens - tf.shape(features)[1]], [0, 0]])
        return {"features": features, "num_tokens": tf.cast(tokens.row_lengths(), tf.int32)}


# The utterances of a serving folder's golden vectors unless the caller gives its own.
DEFAULT_GOLDEN_TEXTS = (
    "turn on the kitchen light",
    "set an alarm for 7:30 am, please!",
    "schalte das Licht im Wohnzimmer aus",
    "¿Qué tiempo hará mañana en Madrid?",
    "éteins toutes les lumières de la chambre",
    "लिविंग रूम की बत्ती बंद करो",
    "เปิดไฟในห้องนั่งเล่น",
    "",
)


def device_golden(server: StudentServer, texts: Sequence[str]) -> List[Dict]:
    """Golden vectors of the served model (the format of device/golden/projection.jsonl plus
    the SavedModel's answer): features from `project_text`, intent and slot tags from
    `serving_default`."""
    if not texts:
        return []
    batch = tf.constant([t.encode("utf-8") for t in texts])
    projected = server.project_text(batch)
    answer = server.serving_default(batch)
    projection = server.projection
    kept = tf_ops.tokenize(batch)[:, : projection.max_words]
    lowered = tf.strings.lower(kept.flat_values, encoding="utf-8")
    hashed = kept.with_flat_values(tf.where(tf.equal(lowered, ""), NULL_TOKEN, lowered)).to_list()
    intents = [label.decode() for label in server.intent_labels.numpy()]
    extra = 2 if projection.add_bos_eos else 0
    records = []
    for i, text in enumerate(texts):
        n = int(answer["num_tokens"][i])
        tags = [t.decode() for t in answer["slot_tags"].numpy()[i][:n]]
        intent = answer["intent"].numpy()[i].decode()
        records.append(
            {
                "text": text,
                "feature_size": projection.feature_size,
                "max_tokens": projection.max_tokens,
                "add_bos_eos": int(projection.add_bos_eos),
                "prefix_features": projection.prefix_features,
                "prefix_chars": projection.prefix_chars,
                "ngram_features": projection.ngram_features,
                "ngram_chars": projection.ngram_chars,
                "case_features": projection.case_features,
                "text_hex": text.encode("utf-8").hex(),
                "words": [w.decode() for w in answer["tokens"].numpy()[i][:n]],
                "tokens_hex": [t.hex() for t in hashed[i]],
                "features": pack_features(projected["features"].numpy()[i, : n + extra]),
                "intent": intent,
                "intent_id": intents.index(intent),
                "slot_tags": tags,
                "slot_tag_ids": [server.tag_vocab.index(t) for t in tags],
            }
        )
    return records


def saved_model_bytes(path: str) -> int:
    """Bytes of a SavedModel folder without `assets.extra` (where the int8 TFLite file sits)."""
    total = 0
    for root, _, files in tf.io.gfile.walk(path):
        if TFLITE_DIR not in root.split(os.sep):
            total += sum(tf.io.gfile.stat(os.path.join(root, f)).length for f in files)
    return total


def export_saved_model(
    model: PQRNNStudent,
    intent_vocab: Sequence[str],
    tag_vocab: Sequence[str],
    path: str,
    golden_texts: Optional[Sequence[str]] = None,
) -> str:
    """Write the serving SavedModel (signatures in the module docstring) to `path`, with the
    files of `assets.extra/`; `golden_texts` (default `DEFAULT_GOLDEN_TEXTS`) are the
    utterances of its golden vectors."""
    server = StudentServer(model, intent_vocab, tag_vocab)
    signatures = {
        "serving_default": server.serving_default,
        "serve_tokens": server.serve_tokens,
        "serve_examples": server.serve_examples,
        "project_text": server.project_text,
    }
    tf.saved_model.save(server, path, signatures=signatures)
    extra = os.path.join(path, TFLITE_DIR)
    tf.io.gfile.makedirs(extra)
    for name, vocab in ((INTENT_VOCAB, intent_vocab), (SLOT_TAG_VOCAB, tag_vocab)):
        with tf.io.gfile.GFile(vocab_file(extra, name), "w") as f:
            f.write("".join(f"{label}\n" for label in vocab))
    with tf.io.gfile.GFile(os.path.join(extra, STUDENT_CONFIG_FILE), "w") as f:
        json.dump(dataclasses.asdict(model.student_config), f, indent=2)
    with tf.io.gfile.GFile(os.path.join(extra, DEVICE_PROJECTION_FILE), "w") as f:
        json.dump(device_projection_params(dataclasses.asdict(model.student_config)), f, indent=2)
    golden = device_golden(server, DEFAULT_GOLDEN_TEXTS if golden_texts is None else golden_texts)
    with tf.io.gfile.GFile(os.path.join(extra, DEVICE_GOLDEN_FILE), "w") as f:
        f.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in golden))
    return path


def export_tflite_int8(model: PQRNNStudent, representative_features: Iterable[np.ndarray], path: str) -> bytes:
    """Convert the encoder to an int8 TFLite flatbuffer at `path` and return its bytes.

    `representative_features`: arrays [1, T, B] (e.g. `project_text` outputs of typical
    utterances, a few hundred) used to calibrate activation ranges. The model's input is
    features [b, T, B] float32 with T <= max_tokens (zero rows are padding; resize the
    interpreter's input, or pad every query to max_tokens with `pad_features`); its outputs
    are intent_logits [b, C] and word-aligned slot_logits [b, T - 2, S] (T with no BOS/EOS).
    """
    config = model.student_config
    # Time is dynamic (any T <= max_tokens): a query pays for its own length, not max_tokens.
    spec = tf.TensorSpec([None, None, config.projection.feature_size], tf.float32, name="features")

    @tf.function(input_signature=[spec])
    def encoder(features):
        return model(features, training=False)

    samples = [np.asarray(f, dtype=np.float32)[:, : config.max_tokens] for f in representative_features]
    if not samples:
        raise ValueError("representative_features is empty")

    def representative_dataset():
        for sample in samples:
            for row in range(sample.shape[0]):
                yield [sample[row : row + 1]]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([encoder.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    flatbuffer = converter.convert()
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(flatbuffer)
    return flatbuffer
