"""The latency helpers the report and the benchmarks share: the student's deployable fast path
read through tf.io.gfile, and the teacher on words."""

from bench.speed import fresh_student
from pipeline.config import load_config
from pqrnn.serving import FastStudent
from review.speed import fast_student, fast_student_latency, teacher_latency
from tests.beam_jobs.test_teacher_inference import _teacher

TEXTS = ["turn on the light", "schalte das Licht aus", "เปิดไฟ", "पंखा चालू करो", "", "lights off!"] * 5


def test_fast_student_latency_on_an_exported_student(write_config, tmp_path):
    config = load_config(
        write_config({"student": {"projection": {"feature_size": 64}, "bottleneck_size": 16, "max_tokens": 16}})
    )
    path = fresh_student(config, ["on", "off"], ["O", "B-x", "I-x"], TEXTS, str(tmp_path / "student"))
    loaded, local = fast_student(path), FastStudent.from_saved_model(path)
    assert (
        (loaded.intent_labels, loaded.tag_labels)
        == (local.intent_labels, local.tag_labels)
        == (
            ["on", "off"],
            ["O", "B-x", "I-x"],
        )
    )
    for text in TEXTS[:6]:
        assert loaded(text).slot_tags == local(text).slot_tags
    measured = fast_student_latency(path, TEXTS, queries=10)
    assert 0 < measured["p50_ms"] <= measured["p90_ms"] and measured["cold_cache_p50_ms"] > 0


def test_teacher_latency_on_words(tmp_path):
    measured = teacher_latency(_teacher(tmp_path), 32, [t.split() for t in TEXTS], queries=5)
    assert measured["params"] > 0 and 0 < measured["p50_ms"] <= measured["p90_ms"]
