"""Read the dataset job's output: gzipped TFRecords of tf.train.Example.

A ~60-line reader instead of tf.data keeps TensorFlow out of the teacher's processes
(torch workers stay small and start fast). Record framing is checked by length; the
gzip layer already carries a CRC over the whole stream.
"""

from __future__ import annotations

import glob
import gzip
import struct
from typing import Dict, Iterator, List, Tuple

from schemas.features import ID, INTENT, LANG, SLOT_TAGS, TEXT, TOKENS, LabelledRow, split_file_pattern


def _varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[Tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message; value is bytes or int."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def parse_bytes_features(serialized: bytes) -> Dict[str, List[bytes]]:
    """The bytes-list features of a serialized tf.train.Example (others are skipped).

    Example{1: Features{1: map<string, Feature>}}; Feature{1: BytesList{1: repeated bytes}}.
    """
    out: Dict[str, List[bytes]] = {}
    for number, _, features in _fields(serialized):
        if number != 1:
            continue
        for entry_number, _, entry in _fields(features):  # map entries: {1: key, 2: Feature}
            if entry_number != 1:
                continue
            key, feature = "", b""
            for n, _, v in _fields(entry):
                if n == 1:
                    key = v.decode("utf-8")
                elif n == 2:
                    feature = v
            values: List[bytes] = []
            for kind, _, payload in _fields(feature):
                if kind == 1:  # bytes_list
                    values.extend(v for n, _, v in _fields(payload) if n == 1)
            out[key] = values
    return out


def read_records(path: str) -> Iterator[bytes]:
    """Records of one (gzipped if named *.gz) TFRecord file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        while True:
            header = f.read(12)  # uint64 length, uint32 masked CRC of the length
            if not header:
                return
            if len(header) < 12:
                raise ValueError(f"{path}: truncated record header")
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length + 4)  # payload, uint32 masked CRC of the payload
            if len(data) < length + 4:
                raise ValueError(f"{path}: truncated record")
            yield data[:length]


def split_files(dataset_dir: str, split: str) -> List[str]:
    pattern = split_file_pattern(dataset_dir, split)
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no TFRecords for split {split!r}: nothing matches {pattern}")
    return files


def _text(features: Dict[str, List[bytes]], key: str) -> str:
    values = features.get(key) or [b""]
    return values[0].decode("utf-8")


def read_split(dataset_dir: str, split: str) -> List[LabelledRow]:
    """All examples of one split, in file order."""
    examples = []
    for path in split_files(dataset_dir, split):
        for record in read_records(path):
            f = parse_bytes_features(record)
            tokens = [t.decode("utf-8") for t in f.get(TOKENS, [])]
            tags = [t.decode("utf-8") for t in f.get(SLOT_TAGS, [])]
            if len(tokens) != len(tags):
                raise ValueError(f"{path}: example {_text(f, ID)!r} has {len(tokens)} tokens but {len(tags)} slot tags")
            examples.append(LabelledRow(_text(f, ID), _text(f, LANG), _text(f, TEXT), tokens, _text(f, INTENT), tags))
    return examples
