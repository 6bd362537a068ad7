"""Beam reads and writes of the `Split-*` layout of a TFX `Examples` artifact.

Every job reads and writes `DIR/Split-<name>/data_tfrecord-*.gz` (see `schemas.features`),
so their outputs are artifacts as they stand.
"""

from __future__ import annotations

import apache_beam as beam

from schemas.examples import decode, encode
from schemas.features import RECORD_FILE_PREFIX, RECORD_FILE_SUFFIX, split_dir, split_file_pattern


class ReadExamples(beam.PTransform):
    """Read one split of an `Examples` directory as dicts."""

    def __init__(self, root: str, split: str):
        super().__init__()
        self._pattern = split_file_pattern(root, split)

    def expand(self, pbegin):
        return (
            pbegin
            | "Read"
            >> beam.io.ReadFromTFRecord(self._pattern, compression_type=beam.io.filesystem.CompressionTypes.GZIP)
            | "Decode" >> beam.Map(decode)
        )


class WriteExamples(beam.PTransform):
    """Write dicts as gzipped TFRecords of one split."""

    def __init__(self, root: str, split: str):
        super().__init__()
        self._prefix = f"{split_dir(root, split)}/{RECORD_FILE_PREFIX}"

    def expand(self, pcoll):
        return (
            pcoll
            | "Encode" >> beam.Map(encode)
            | "Write" >> beam.io.WriteToTFRecord(self._prefix, file_name_suffix=RECORD_FILE_SUFFIX)
        )
