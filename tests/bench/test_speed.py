"""`python -m bench.speed` on a tiny configuration with no pipeline run: every input is made
here (dataset job, random soft labels, a fresh student, the tiny base teacher), every figure
of the issue is in the JSON, and the MAC count follows the model's own weights."""

import json
import math

import numpy as np
import yaml

from bench import speed
from pqrnn.config import ProjectionConfig, QRNNConfig, StudentConfig
from pqrnn.model import build_student
from tests.conftest import tiny_sections


def test_macs_per_token_are_the_weights_applied_per_token():
    config = StudentConfig(
        projection=ProjectionConfig(feature_size=64), bottleneck_size=24, qrnn=QRNNConfig(state_size=16, num_layers=3)
    )
    model = build_student(config, 7, 5)
    per_token = [v for v in model.trainable_variables if "kernel" in v.name and "intent_head" not in v.name]
    assert speed.student_macs_per_token(config, 5) == sum(int(np.prod(v.shape)) for v in per_token)
    intent = sum(int(np.prod(v.shape)) for v in model.trainable_variables if "intent_head/kernel" in v.name)
    assert speed.training_macs(config, 7, 5, tokens=10, examples=2) == 3 * (
        10 * sum(int(np.prod(v.shape)) for v in per_token) + 2 * intent
    )


def test_bench_speed_writes_every_figure_without_a_run(tiny, tmp_path):
    sections = tiny_sections(tmp_path)
    sections["teacher"]["base"] = str(tiny / "base")
    sections["training"]["batch_size"] = 16
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(sections))
    output = tmp_path / "speed.json"
    argv = ["--config", str(config), "--run", "none", "--output", str(output)]
    assert speed.main(argv + ["--teacher-rows", "60", "--train-steps", "3", "--latency-queries", "5"]) == 0

    result = json.loads(output.read_text())
    for key in speed.KEYS:
        assert key in result, key
    for key in ("trainer_examples_per_s", "trainer_mac_per_s", "peak_mac_per_s", "student_latency_p50_ms"):
        assert result[key] > 0 and math.isfinite(result[key]), key
    assert 0 < result["trainer_utilisation"] < 1
    assert result["latency_ratio"] == result["teacher_latency_p50_ms"] / result["student_latency_p50_ms"]
    # The student on LiteRT and on tf.lite.Interpreter side by side, and what each service installs.
    assert result["student_latency_p50_ms_litert"] > 0 and result["student_latency_p50_ms_tf_lite"] > 0
    assert result["identical_logits"] is True
    assert 0 < result["service_install_mb_litert"] < result["service_install_mb_tensorflow"]
    # Steady-state Beam throughput needs the job on all rows to be slower than on one; on 60 tiny
    # rows that may not be so, and then it is reported as missing, never as a made-up number.
    assert result["beam_rows_per_s"] is None or result["beam_plain_ratio"] == (
        result["beam_rows_per_s"] / result["plain_rows_per_s"]
    )
    assert result["teacher_rows"] == 60 and result["beam_startup_s"] > 0
    assert "untrained" in result["student_source"] and "fresh heads" in result["teacher_source"]
    assert result["run"] is None and "CPU cores" in result["machine"]
    assert result["trainer_tokens_per_example"] <= result["trainer_padded_tokens_per_example"]
