"""tf.train.Example <-> plain dicts, and the Beam reads/writes of the `Split-*` layout.

Every job reads and writes the layout of a TFX `Examples` artifact:
`DIR/Split-<name>/data_tfrecord-*.gz`, so their outputs are artifacts as they stand.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

Value = Union[str, int, float, Sequence[str], Sequence[int], Sequence[float]]
STRING_FEATURES = ("id", "lang", "text", "intent", "group_id", "source", "aug_method", "teacher_intent")


def encode(features: Dict[str, Value]) -> bytes:
    """Serialise a dict: str -> bytes feature, int -> int64, float -> float; lists keep their type."""
    import tensorflow as tf

    example = tf.train.Example()
    for name, value in features.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        feature = example.features.feature[name]
        if values and isinstance(values[0], str):
            feature.bytes_list.value.extend(v.encode("utf-8") for v in values)
        elif values and isinstance(values[0], float):
            feature.float_list.value.extend(values)
        elif values and isinstance(values[0], int):
            feature.int64_list.value.extend(values)
        elif not values:
            feature.bytes_list.SetInParent()
        else:
            raise TypeError(f"feature {name!r}: unsupported value {values[0]!r}")
    return example.SerializeToString()


def decode(serialized: bytes) -> Dict[str, List[Any]]:
    """Parse an example into {name: list of str | int | float}."""
    import tensorflow as tf

    out: Dict[str, List[Any]] = {}
    for name, feature in tf.train.Example.FromString(serialized).features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list":
            out[name] = [v.decode("utf-8") for v in feature.bytes_list.value]
        elif kind == "float_list":
            out[name] = list(feature.float_list.value)
        elif kind == "int64_list":
            out[name] = list(feature.int64_list.value)
        else:
            out[name] = []
    return out


def split_pattern(root: str, split: str) -> str:
    return FileSystems.join(root, f"Split-{split}", "*")


class ReadExamples(beam.PTransform):
    """Read one split of an `Examples` directory as dicts."""

    def __init__(self, root: str, split: str):
        super().__init__()
        self._pattern = split_pattern(root, split)

    def expand(self, pbegin):
        return (
            pbegin
            | "Read" >> beam.io.ReadFromTFRecord(self._pattern, compression_type=beam.io.filesystem.CompressionTypes.GZIP)
            | "Decode" >> beam.Map(decode)
        )


class WriteExamples(beam.PTransform):
    """Write dicts as gzipped TFRecords of one split."""

    def __init__(self, root: str, split: str):
        super().__init__()
        self._prefix = FileSystems.join(root, f"Split-{split}", "data_tfrecord")

    def expand(self, pcoll):
        return pcoll | "Encode" >> beam.Map(encode) | "Write" >> beam.io.WriteToTFRecord(self._prefix, file_name_suffix=".gz")
