"""The constants of the word hash (see `pqrnn.projection` and DESIGN.md), without TensorFlow, so
that the TF projection and the NumPy one of `pqrnn.serving` share one definition."""

from __future__ import annotations

import math
from typing import List

BOS_TOKEN = b"\xfebos"
EOS_TOKEN = b"\xfeeos"
NULL_TOKEN = b"\xfenull"
# Marks the hashed prefix of a word (`prefix_features`): 0xFD never occurs in UTF-8 either.
PREFIX_MARK = b"\xfd"
# Marks a hashed character n-gram of a word (`ngram_features`): 0xFC never occurs in UTF-8.
NGRAM_MARK = b"\xfc"
# Marks a word's hashed case shape (`case_features`), followed by one byte: 1 when its first
# character changes under lower-casing, + 2 when another one does. 0xFA never occurs in UTF-8.
CASE_MARK = b"\xfa"
SALT_SEPARATOR = b"\xff"
FIELDS_PER_HASH = 32  # 64-bit fingerprint, 2 bits per feature


def salts(feature_size: int) -> List[bytes]:
    """The byte suffixes appended to a token, one per 64-bit hash word."""
    return [SALT_SEPARATOR + bytes([j]) for j in range(math.ceil(feature_size / FIELDS_PER_HASH))]
