"""`python -m bench.device_agreement` on a tiny random student exported as the Trainer exports
one (tests/bench/conftest.py): the C projection gives the TF projection's features on every
golden utterance, so the int8 answers agree on all of them; a broken projection shows."""

import json

import numpy as np

from bench import device_agreement
from pqrnn.export import DEFAULT_GOLDEN_TEXTS


def _run(serving_dir, output):
    code = device_agreement.main([serving_dir, "--output", str(output)])
    [record] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return code, record


def test_the_c_path_agrees_with_the_tf_path_on_every_utterance(tiny_serving_dir, tmp_path):
    code, record = _run(tiny_serving_dir, tmp_path / "device.jsonl")
    assert code == 0
    total = record["utterances"]
    assert total >= 290 and record["utterances_by_source"]["serving_golden"] == len(DEFAULT_GOLDEN_TEXTS)
    assert {"en", "hi", "th", "edge", "random_bytes"} <= set(record["utterances_by_source"])
    assert record["features_identical"] == total and record["features_differ"] == []
    assert record["int8_agreement"] == 1.0 and record["int8_disagreements"] == []
    assert record["interpreter"] == "ai_edge_litert.interpreter.Interpreter"
    # int8 against the float SavedModel: each disagreement listed with both answers.
    differ = record["saved_model_disagreements"]
    assert record["saved_model_agreement"] == (total - len(differ)) / total
    assert all(row["c_litert"] != row["saved_model"] for row in differ)
    assert record["command"].startswith("python -m bench.device_agreement ")
    assert record["commit"] and "CPU cores" in record["machine"] and record["date"]


def test_a_projection_that_differs_is_reported(tiny_serving_dir, tmp_path, monkeypatch):
    projection = device_agreement.CProjection.__call__

    def negated(self, text):
        features, words = projection(self, text)
        return -features, words

    monkeypatch.setattr(device_agreement.CProjection, "__call__", negated)
    code, record = _run(tiny_serving_dir, tmp_path / "device.jsonl")
    assert record["features_identical"] == 0 and len(record["features_differ"]) == record["utterances"]
    assert code == (0 if record["int8_agreement"] >= device_agreement.REQUIRED_AGREEMENT else 1)
    assert np.isclose(record["int8_agreement"], 1 - len(record["int8_disagreements"]) / record["utterances"])
