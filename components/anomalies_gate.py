"""AnomaliesGate: stop the run when ExampleValidator found anomalies.

ExampleValidator records anomalies but lets the run go on; a distillation run on broken
data wastes the teacher's and the trainer's time, so this gate fails with a readable list.
"""

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils


def describe_anomalies(anomalies_uri: str, split_names: str) -> str:
    """One line per anomalous feature and split; empty when there is none."""
    lines = []
    for split in artifact_utils.decode_split_names(split_names):
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not fileio.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"  split {split}, feature {feature!r}: {info.short_description} ({info.description})")
    return "\n".join(lines)


@tfx.dsl.components.component
def AnomaliesGate(anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies]) -> None:
    """Fails the run when the anomalies artifact lists any anomaly."""
    report = describe_anomalies(anomalies.uri, anomalies.split_names)
    if report:
        raise RuntimeError(
            "ExampleValidator found schema anomalies in the data; the run stops here.\n"
            + report
            + f"\nFull report: {anomalies.uri}"
        )
