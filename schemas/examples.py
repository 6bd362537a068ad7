"""tf.train.Example <-> plain dicts (`{name: str | int | float or a list of them}`).

The one codec of the project's examples; TensorFlow is imported on first use so that
readers that only need the feature names stay light.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

Value = Union[str, int, float, Sequence[str], Sequence[int], Sequence[float]]


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
