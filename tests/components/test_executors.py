"""The project's executors called as TFX calls them (artifacts in, artifacts out), without a
pipeline run: AtomicPusher, AnomaliesGate, Augment, and how a job's failure leaves an executor."""

import json
import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.components.base import base_executor
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from beam_jobs.outputs import JobError
from components.anomalies_gate import describe_anomalies
from components.atomic_pusher import AtomicPusherExecutor
from components.augment import AugmentExecutor
from components.jobs import CONFIG_JSON, run_job
from models.sections import AUGMENT
from pipeline.config import config_to_json, load_config
from tests.conftest import example_row, read_dataset_rows, write_examples


def _pusher_inputs(tmp_path, blessed: bool):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    serving = tmp_path / "model" / "Format-Serving"
    (serving / "assets.extra").mkdir(parents=True)
    (serving / "saved_model.pb").write_bytes(b"model")
    (serving / "assets.extra" / "student_int8.tflite").write_bytes(b"tflite")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(tmp_path / "serving"))
    )
    return (
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)},
        pushed,
    )


def test_atomic_pusher_publishes_a_blessed_model_as_one_version_folder(tmp_path):
    inputs, outputs, properties, pushed = _pusher_inputs(tmp_path, blessed=True)
    AtomicPusherExecutor().Do(inputs, outputs, properties)
    versions = os.listdir(tmp_path / "serving")
    assert len(versions) == 1 and versions[0].isdigit(), versions  # no hidden ".incoming-*" left
    version = tmp_path / "serving" / versions[0]
    assert (version / "saved_model.pb").read_bytes() == b"model"
    assert (version / "assets.extra" / "student_int8.tflite").exists()
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == str(version)

    # A second push in the same second gets the next version number, never a merge.
    inputs, outputs, properties, _ = _pusher_inputs(tmp_path / "again", blessed=True)
    properties[standard_component_specs.PUSH_DESTINATION_KEY] = json.dumps(
        {"filesystem": {"baseDirectory": str(tmp_path / "serving")}}
    )
    AtomicPusherExecutor().Do(inputs, outputs, properties)
    assert len(os.listdir(tmp_path / "serving")) == 2


def test_atomic_pusher_pushes_nothing_unblessed(tmp_path):
    inputs, outputs, properties, pushed = _pusher_inputs(tmp_path, blessed=False)
    AtomicPusherExecutor().Do(inputs, outputs, properties)
    assert not (tmp_path / "serving").exists() or not os.listdir(tmp_path / "serving")
    assert pushed.get_int_custom_property("pushed") == 0


def test_anomalies_gate_lists_each_anomalous_feature(tmp_path):
    for split, feature in (("train", "tokens"), ("eval", None)):
        folder = tmp_path / f"Split-{split}"
        folder.mkdir()
        anomalies = anomalies_pb2.Anomalies()
        if feature:
            info = anomalies.anomaly_info[feature]
            info.short_description = "Out-of-range values"
            info.description = "Unexpectedly large value count: 80"
        (folder / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
    report = describe_anomalies(str(tmp_path), '["train", "eval"]')
    assert report == "  split train, feature 'tokens': Out-of-range values (Unexpectedly large value count: 80)"
    assert describe_anomalies(str(tmp_path), '["eval"]') == ""


def test_augment_is_given_the_unlabelled_inputs_and_adds_them(write_config, tmp_path):
    write_examples(tmp_path / "ds", [example_row(0, "turn on the light", "on", ["O"] * 4, "train")])
    (tmp_path / "traffic.txt").write_text("switch off the oven\n", encoding="utf-8")
    config = load_config(
        write_config({"data": {"unlabeled": [{"path": "traffic.txt"}]}, "augmentation": {"enabled": False}})
    )
    examples, augmented = standard_artifacts.Examples(), standard_artifacts.Examples()
    examples.uri, augmented.uri = str(tmp_path / "ds"), str(tmp_path / "aug")
    # What the pipeline gives the component: only the keys of `data` it reads.
    properties = {CONFIG_JSON: config_to_json(config, list(AUGMENT))}
    assert "unlabeled" in json.loads(properties[CONFIG_JSON])["data"]
    assert "source" not in json.loads(properties[CONFIG_JSON])["data"]
    AugmentExecutor().Do({"examples": [examples]}, {"augmented_examples": [augmented]}, properties)
    rows = read_dataset_rows(tmp_path / "aug", ["train"])
    assert [(r["text"], r["aug_method"]) for r in rows] == [(["switch off the oven"], ["unlabeled"])]
    assert augmented.get_int_custom_property("emitted") == 1


class _JobExecutor(base_executor.BaseExecutor):
    """Runs the job in `exec_properties["job"]` as the project's executors do."""

    def Do(self, input_dict, output_dict, exec_properties):
        return run_job(self, exec_properties["job"])


def _failing_job():
    raise JobError("3 of 4 rows dead-lettered")


@pytest.mark.parametrize("output_uri", ["/tmp/executor_output.pb", None])
def test_a_job_error_fails_the_execution_with_its_message(output_uri):
    executor = _JobExecutor(base_executor.BaseExecutor.Context(executor_output_uri=output_uri))
    if output_uri:  # TFX's launcher reads the output: MLMD records the message
        output = executor.Do({}, {}, {"job": _failing_job})
        assert output.execution_result.code == 1
        assert output.execution_result.result_message == "3 of 4 rows dead-lettered"
    else:  # the Kubeflow V2 entrypoint ignores returned outputs: the task must fail
        with pytest.raises(JobError, match="3 of 4 rows dead-lettered"):
            executor.Do({}, {}, {"job": _failing_job})
    assert executor.Do({}, {}, {"job": lambda: None}) is None
