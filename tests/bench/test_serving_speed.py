"""`python -m bench.serving_speed` on a tiny random student: the student on LiteRT and on
tf.lite.Interpreter side by side (same logits), and a LiteRT service installs far less than
TensorFlow."""

import json

from bench import serving_speed


def test_both_runtimes_are_timed_on_the_same_queries(tiny_serving_dir, tmp_path):
    output = tmp_path / "serving.jsonl"
    argv = [tiny_serving_dir, "--queries", "5", "--rounds", "1", "--output", str(output)]
    assert serving_speed.main(argv) == 0
    [record] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    for runtime in ("litert", "tf_lite"):
        for figure in ("student_latency_p50_ms", "student_latency_p90_ms", "encoder_latency_p50_ms"):
            assert record[f"{figure}_{runtime}"] > 0
    assert record["litert_speedup_p50"] == (
        record["student_latency_p50_ms_tf_lite"] / record["student_latency_p50_ms_litert"]
    )
    assert record["identical_logits"] is True and record["serving_queries"] == 5
    assert {"numpy", "ai-edge-litert"} <= set(record["service_distributions_litert"])
    assert "tensorflow" not in record["service_distributions_litert"]
    assert 0 < record["service_install_mb_litert"] < record["service_install_mb_tensorflow"]
    assert record["command"].startswith("python -m bench.serving_speed ") and record["commit"]


def test_install_size_follows_requirements():
    size, names = serving_speed.installed_bytes(["ai-edge-litert"])
    assert "numpy" in names and size > serving_speed.installed_bytes(["numpy"])[0] > 0
    assert serving_speed.installed_bytes(["no-such-distribution"]) == (0, [])
