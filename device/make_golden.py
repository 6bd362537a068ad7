"""Write the golden vectors of the C projection test: features computed by the TensorFlow path
(`tokenization.tf_ops.tokenize` + `pqrnn.projection.Projection`, what the SavedModel serves)
for the utterances of device/golden_texts.py.

    python device/make_golden.py [--output device/golden/projection.jsonl]

One JSON object per line: lang, feature_size, max_tokens, add_bos_eos, prefix_features,
prefix_chars, ngram_features, ngram_chars, case_features, text_hex (the UTF-8
bytes, possibly invalid), tokens_hex (the bytes hashed for each kept word: lower-cased, or
the NULL marker), features (one hex string per row, BOS and EOS rows included, packed as
`pqrnn.serving.pack_features`: 2 bits a feature, 0 -> 00, +1 -> 01, -1 -> 10, first feature in
the lowest bits). Every utterance at feature_size 64 / max_tokens 16, without and with prefix
features, and with prefix, n-gram and case features; some also at the default 1024 / 64 (with
and without them), and at 100 / 8 without BOS/EOS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]

import tensorflow as tf  # noqa: E402
from golden_texts import golden_texts  # noqa: E402

from pqrnn.hash_spec import NULL_TOKEN  # noqa: E402
from pqrnn.projection import Projection  # noqa: E402
from pqrnn.serving import pack_features  # noqa: E402
from tokenization import tf_ops  # noqa: E402

DEFAULT_OUTPUT = os.path.join(HERE, "golden", "projection.jsonl")
SETTING_KEYS = (
    "feature_size",
    "max_tokens",
    "add_bos_eos",
    "prefix_features",
    "prefix_chars",
    "ngram_features",
    "ngram_chars",
    "case_features",
)
# SETTING_KEYS' values, then which utterances: every k-th, or all.
SETTINGS = [
    (64, 16, True, 0, 4, 0, 3, 0, 1),
    (64, 16, True, 24, 3, 0, 3, 0, 1),
    (64, 16, True, 24, 3, 20, 3, 8, 1),
    (1024, 64, True, 0, 4, 0, 3, 0, 40),
    (1024, 64, True, 384, 4, 0, 3, 0, 10),
    (1024, 64, True, 384, 4, 256, 3, 32, 10),
    (100, 8, False, 20, 2, 30, 5, 0, 15),
]


def tf_golden(
    texts: Sequence[bytes],
    feature_size: int,
    max_tokens: int,
    add_bos_eos: bool,
    prefix_features: int,
    prefix_chars: int,
    ngram_features: int,
    ngram_chars: int,
    case_features: int,
) -> List[Dict]:
    """Per text: tokens_hex and features (packed rows) as the TF path computes them."""
    projection = Projection(
        feature_size,
        max_tokens,
        add_bos_eos,
        0.0,
        prefix_features,
        prefix_chars,
        ngram_features,
        ngram_chars,
        case_features,
    )
    tokens = tf_ops.tokenize(tf.constant(list(texts)))
    kept = tokens[:, : projection.max_words]
    lowered = tf.strings.lower(kept.flat_values, encoding="utf-8")
    lowered = kept.with_flat_values(tf.where(tf.equal(lowered, ""), NULL_TOKEN, lowered)).to_list()
    features = projection(tokens).numpy()
    extra = 2 if add_bos_eos else 0
    return [
        {"tokens_hex": [t.hex() for t in row], "features": pack_features(features[i, : len(row) + extra])}
        for i, row in enumerate(lowered)
    ]


def records() -> List[Dict]:
    texts: List[Tuple[str, bytes]] = golden_texts()
    out = []
    for *values, every in SETTINGS:
        setting = dict(zip(SETTING_KEYS, values))
        chosen = texts[::every]
        golden = tf_golden([t for _, t in chosen], **setting)
        for (lang, text), g in zip(chosen, golden):
            out.append(
                {"lang": lang, **setting, "add_bos_eos": int(setting["add_bos_eos"]), "text_hex": text.hex(), **g}
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    rows = records()
    with open(args.output, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, separators=(",", ":")) + "\n")
    print(f"{args.output}: {len(rows)} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
