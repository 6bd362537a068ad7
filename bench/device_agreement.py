"""The device path against the SavedModel on the golden utterances: does the C projection
(device/) feeding the int8 TFLite encoder in LiteRT answer what the exported student answers?

    .venv/bin/python -m bench.device_agreement SERVING_DIR [--output bench/results/device.jsonl]

SERVING_DIR is an exported student folder (the Pusher's, or the Trainer's
`serving_model_dir`). The utterances are device/golden_texts.py's (read from
device/golden/projection.jsonl, which holds each once: six languages, edge cases, invalid
UTF-8, random text and bytes) and the folder's own `device_golden.jsonl`. Each goes through:

- **C → LiteRT**: device/pqrnn_projection.c, compiled here with the system C compiler and
  called through ctypes, then the int8 `student_int8.tflite` in `ai_edge_litert`'s interpreter
  (`pqrnn.serving.FastStudent.encode`), argmax intent and BIO-constrained tags (`schemas.bio`);
- **TF → LiteRT**: the SavedModel's `project_text` features through the same int8 encoder:
  int8 against int8, so any difference is the projection's;
- **SavedModel**: `serving_default`, the float (quantization-aware) model, what the Evaluator
  scored.

Appends one JSON line (command, commit, machine, date, numbers, every disagreeing utterance)
to `--output` and prints the fractions; exits 1 when the C → LiteRT answers differ from the
TF → LiteRT ones on more than 0.5 % of the utterances (the issue's bar).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bench.common import append_record, commit_and_machine
from pqrnn.serving import DEVICE_GOLDEN_FILE, DEVICE_PROJECTION_FILE, FastStudent
from schemas import bio
from schemas.features import TFLITE_DIR

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEVICE = os.path.join(ROOT, "device")
GOLDEN_UTTERANCES = os.path.join(DEVICE, "golden", "projection.jsonl")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{DEVICE}"]
DEFAULT_OUTPUT = "bench/results/device.jsonl"
REQUIRED_AGREEMENT = 0.995  # the bar for C -> LiteRT against the TF projection, int8 both


# ------------------------------------------------------------------ the C projection
def find_compiler() -> Optional[str]:
    """The system C compiler (cc, gcc or clang), or None."""
    return next((path for path in map(shutil.which, ("cc", "gcc", "clang")) if path), None)


class Span(ctypes.Structure):
    _fields_ = [("start", ctypes.c_size_t), ("end", ctypes.c_size_t)]


class Params(ctypes.Structure):
    _fields_ = [
        ("feature_size", ctypes.c_int),
        ("max_tokens", ctypes.c_int),
        ("add_bos_eos", ctypes.c_int),
        ("prefix_features", ctypes.c_int),
        ("prefix_chars", ctypes.c_int),
        ("ngram_features", ctypes.c_int),
        ("ngram_chars", ctypes.c_int),
        ("case_features", ctypes.c_int),
    ]


class CProjection:
    """`pqrnn_project` of device/pqrnn_projection.c, compiled into `directory` as a shared
    library (once per directory) and called through ctypes."""

    def __init__(
        self,
        directory: str,
        feature_size: int,
        max_tokens: int,
        add_bos_eos: bool = True,
        prefix_features: int = 0,
        prefix_chars: int = 4,
        ngram_features: int = 0,
        ngram_chars: int = 3,
        case_features: int = 0,
    ):
        library = os.path.join(directory, "libpqrnn_projection.so")
        if not os.path.exists(library):
            compiler = find_compiler()
            if compiler is None:
                raise RuntimeError("no C compiler (cc, gcc or clang) on this machine")
            source = os.path.join(DEVICE, "pqrnn_projection.c")
            command = [compiler, *CFLAGS, "-shared", "-fPIC", "-o", library, source]
            subprocess.run(command, check=True, capture_output=True, text=True)
        self.lib = ctypes.CDLL(library)
        self.lib.pqrnn_project.restype = ctypes.c_int
        self.params = Params(
            feature_size,
            max_tokens,
            int(add_bos_eos),
            prefix_features,
            prefix_chars,
            ngram_features,
            ngram_chars,
            case_features,
        )

    def __call__(self, text: bytes) -> Tuple[np.ndarray, List[bytes]]:
        """Features [1, T, B] (float32, what the encoder takes) and the kept words' bytes."""
        p = self.params
        features = np.zeros((p.max_tokens, p.feature_size), np.int8)
        words = (Span * p.max_tokens)()
        num_words = ctypes.c_int()
        scratch = ctypes.create_string_buffer(3 * len(text) + 16)  # PQRNN_SCRATCH_SIZE
        rows = self.lib.pqrnn_project(
            ctypes.byref(p),
            ctypes.c_char_p(text),
            ctypes.c_size_t(len(text)),
            features.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)),
            words,
            ctypes.byref(num_words),
            scratch,
            ctypes.c_size_t(len(scratch)),
        )
        if rows < 0:
            raise RuntimeError(f"pqrnn_project failed ({rows}) on {text!r}")
        kept = [text[words[i].start : words[i].end] for i in range(num_words.value)]
        return features[None, :rows].astype(np.float32), kept


# ------------------------------------------------------------------ the utterances
def golden_utterances() -> List[Tuple[str, bytes]]:
    """(language, "edge", "random" or "random_bytes"; UTF-8 bytes, possibly invalid):
    device/golden_texts.py's utterances, each once, in their order."""
    seen, out = set(), []
    with open(GOLDEN_UTTERANCES, encoding="utf-8") as f:
        for row in map(json.loads, f):
            text = bytes.fromhex(row["text_hex"])
            if text not in seen:
                seen.add(text)
                out.append((row["lang"], text))
    return out


def utterances(serving_dir: str) -> List[Tuple[str, bytes]]:
    """(source, UTF-8 bytes): `golden_utterances`, then the serving folder's golden ones."""
    out = golden_utterances()
    with open(os.path.join(serving_dir, TFLITE_DIR, DEVICE_GOLDEN_FILE), encoding="utf-8") as f:
        out += [("serving_golden", bytes.fromhex(json.loads(line)["text_hex"])) for line in f if line.strip()]
    return out


# ------------------------------------------------------------------ the comparison
def _answer(intent: str, tags: Sequence[str]) -> Dict[str, Any]:
    return {"intent": intent, "slot_tags": list(tags)}


def measure(serving_dir: str, workdir: str) -> Dict[str, Any]:
    """Every utterance through C -> LiteRT, TF -> LiteRT and the SavedModel (module docstring):
    agreement fractions and the disagreeing utterances."""
    import tensorflow as tf

    extra = os.path.join(serving_dir, TFLITE_DIR)
    with open(os.path.join(extra, DEVICE_PROJECTION_FILE), encoding="utf-8") as f:
        params = json.load(f)
    project_c = CProjection(
        workdir,
        params["feature_size"],
        params["max_tokens"],
        params["add_bos_eos"],
        params.get("prefix_features", 0),
        params.get("prefix_chars", 4),
        params.get("ngram_features", 0),
        params.get("ngram_chars", 3),
        params.get("case_features", 0),
    )
    student = FastStudent.from_saved_model(serving_dir)
    loaded = tf.saved_model.load(serving_dir)
    texts = utterances(serving_dir)
    batch = tf.constant([text for _, text in texts])
    served = loaded.signatures["serving_default"](text=batch)
    projected = loaded.signatures["project_text"](text=batch)
    markers = 2 if params["add_bos_eos"] else 0

    def int8_answer(features: np.ndarray, num_words: int) -> Dict[str, Any]:
        intent_logits, slot_logits = student.encode(features)
        tags = bio.decode(slot_logits[:num_words], student.tag_labels)
        return _answer(student.intent_labels[int(np.argmax(intent_logits))], [student.tag_labels[t] for t in tags])

    features_differ, int8_differ, saved_model_differ = [], [], []
    for i, (source, text) in enumerate(texts):
        c_features, c_words = project_c(text)
        n = int(served["num_tokens"][i])
        tf_features = projected["features"].numpy()[i : i + 1, : n + markers]
        c_answer = int8_answer(c_features, len(c_words))
        tf_answer = int8_answer(tf_features, n)
        saved = _answer(served["intent"].numpy()[i].decode(), [t.decode() for t in served["slot_tags"].numpy()[i][:n]])
        shown = {"source": source, "text": text.decode("utf-8", "replace"), "text_hex": text.hex()}
        if c_features.shape != tf_features.shape or not np.array_equal(c_features, tf_features):
            features_differ.append(shown)
        if c_answer != tf_answer:
            int8_differ.append({**shown, "c_litert": c_answer, "tf_litert": tf_answer})
        if c_answer != saved:
            saved_model_differ.append({**shown, "c_litert": c_answer, "saved_model": saved})
    total = len(texts)
    by_source = {s: sum(1 for source, _ in texts if source == s) for s in dict(texts)}
    interpreter = student.interpreter_class
    return {
        "serving_dir": os.path.abspath(serving_dir),
        "utterances": total,
        "utterances_by_source": by_source,
        "interpreter": f"{interpreter.__module__}.{interpreter.__name__}",
        "features_identical": total - len(features_differ),
        "int8_agreement": (total - len(int8_differ)) / total,
        "saved_model_agreement": (total - len(saved_model_differ)) / total,
        # int8 against float differs most on text unlike the training data (edge cases, random).
        "saved_model_agreement_by_source": {
            s: (n - sum(1 for row in saved_model_differ if row["source"] == s)) / n for s, n in by_source.items()
        },
        "required_int8_agreement": REQUIRED_AGREEMENT,
        "features_differ": features_differ,
        "int8_disagreements": int8_differ,
        "saved_model_disagreements": saved_model_differ,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.device_agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("serving_dir", help="an exported student folder (SavedModel + assets.extra/)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSONL file the record is appended to")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="device_agreement_") as workdir:
        result = measure(args.serving_dir, workdir)
    command = "python -m bench.device_agreement " + " ".join(argv if argv is not None else sys.argv[1:])
    append_record(args.output, {"command": command, **commit_and_machine(), **result})
    print(
        f"{result['utterances']} utterances: features identical on {result['features_identical']}; "
        f"C -> LiteRT int8 = TF -> LiteRT int8 on {result['int8_agreement']:.2%}, "
        f"= SavedModel on {result['saved_model_agreement']:.2%}"
    )
    for row in result["int8_disagreements"] + result["saved_model_disagreements"]:
        print(json.dumps(row, ensure_ascii=False))
    print(f"appended to {args.output}")
    return 0 if result["int8_agreement"] >= REQUIRED_AGREEMENT else 1


if __name__ == "__main__":
    sys.exit(main())
