import argparse
import subprocess
import sys

import pytest

from config_core import ConfigError, add_config_arguments
from pipeline.config import load_config
from tests.conftest import REPO


def test_shipped_config_loads_with_defaults():
    config = load_config(str(REPO / "pipeline.yaml"))
    assert config.data.source == "home_assistant"
    assert len(config.data.languages) >= 6
    assert config.beam.args()[0] == "--runner=FnApiRunner"
    assert config.evaluation.fraction_of_teacher_threshold == 0.95
    assert config.evaluation.teacher_min_exact_match == 0.5
    off = load_config(str(REPO / "pipeline.yaml"), ["evaluation.teacher_min_exact_match=null"])
    assert off.evaluation.teacher_min_exact_match is None  # null turns the teacher minimum off


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"student": {"qrnn": {"state_size": "big"}}}, "student.qrnn.state_size: expected int, got 'big'"),
        ({"student": {"qrnn": {"state_sise": 3}}}, "student.qrnn.state_sise: unknown key"),
        ({"data": {"languages": "en"}}, "data.languages: expected a list, got 'en'"),
        ({"data": {"split": {"train": 0.5}}}, "data.split: train + eval + test must sum to 1"),
        ({"data": {"source": "csv"}}, "data.source: expected one of 'home_assistant'"),
        (
            {"data": {"source": "jsonl", "paths": ["missing/*.jsonl"]}},
            "data.paths[0]: no file matches 'missing/*.jsonl'",
        ),
        ({"training": {"epochs": True}}, "training.epochs: expected int, got bool True"),
        ({"beam": {"profile": "dataflw"}}, "beam.profile: 'dataflw' is not one of beam.profiles"),
        ({"teacher": {"finetuned_path": "nowhere"}}, "teacher.finetuned_path: folder not found: 'nowhere'"),
        (
            {"evaluation": {"teacher_min_exact_match": 1.5}},
            "evaluation.teacher_min_exact_match: must be within [0.0, 1.0], got 1.5",
        ),
        ({"evaluation": {"teacher_min_exact_match": "high"}}, "evaluation.teacher_min_exact_match: expected"),
    ],
)
def test_config_errors_name_the_key_path(write_config, sections, message):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(sections))
    assert str(err.value).startswith(message)


def test_overrides_are_parsed_as_yaml_and_validated(write_config):
    path = write_config({})
    config = load_config(path, ["data.languages=[en, th]", "student.qrnn.state_size=96"])
    assert config.data.languages == ["en", "th"]
    assert config.student.qrnn.state_size == 96
    # A float in exponent form without a dot, which PyYAML alone reads as a string.
    assert load_config(path, ["training.learning_rate=3e-3"]).training.learning_rate == 0.003
    assert load_config(write_config({"training": {"learning_rate": "2E+1"}})).training.learning_rate == 20.0
    with pytest.raises(ConfigError, match=r"^training.learning_rate: expected float, got '3e'"):
        load_config(path, ["training.learning_rate=3e"])
    with pytest.raises(ConfigError, match=r"^training.batch_size: expected int, got 'x'"):
        load_config(path, ["training.batch_size=x"])


def test_relative_paths_resolve_against_the_config_file(write_config, tmp_path):
    (tmp_path / "data.jsonl").write_text("{}\n")
    config = load_config(write_config({"data": {"source": "jsonl", "paths": ["data.jsonl"]}}))
    assert config.data.paths == [str(tmp_path / "data.jsonl")]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--config", "nope.yaml"], "config error: config file not found: nope.yaml"),
        (["--set", "data.max_tokens=big"], "config error: data.max_tokens: expected int, got 'big'"),
        (["--set", "data.max_tokens=0"], "config error: data.max_tokens: must be >= 1, got 0"),
        (
            ["--set", "student.qrnn.state_size=8"],
            "config error: student.qrnn.state_size: this command reads only beam, data, project",
        ),
    ],
)
def test_entry_point_exits_2_with_one_line(tmp_path, args, expected):
    if "--config" not in args:
        args = ["--config", str(REPO / "pipeline.yaml")] + args
    proc = subprocess.run(
        [sys.executable, "-m", "beam_jobs.build_dataset", "--output_dir", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in proc.stderr


def test_set_takes_several_overrides_and_repeats():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args, rest = parser.parse_known_args(
        [
            "--set",
            "training.epochs=3",
            "student.qrnn.num_layers=1",
            "--runner=FnApiRunner",
            "--set",
            "data.languages=[en]",
        ]
    )
    assert args.overrides == ["training.epochs=3", "student.qrnn.num_layers=1", "data.languages=[en]"]
    assert rest == ["--runner=FnApiRunner"]  # Beam flags pass through


@pytest.mark.parametrize(
    "override",
    [
        "project.name=''", "project.name='a b'", "project.seed=-1",
        "data.max_tokens=0", "data.max_line_bytes=-5", "data.max_dead_letter_ratio=1.5", "data.split.train=-0.1",
        "data.home_assistant.samples_per_template=0", "data.languages=[en, xx]",
        "teacher.finetune.max_steps=0", "teacher.finetune.patience=0", "teacher.finetune.eval_every_steps=0",
        "teacher.finetune.max_minutes=-1", "teacher.finetune.min_delta=-0.1",
        "teacher.finetune.batch_size=-3", "teacher.finetune.learning_rate=-1e-4",
        "teacher.finetune.head_learning_rate=0", "teacher.finetune.warmup_ratio=1", "teacher.finetune.weight_decay=-1",
        "teacher.finetune.max_length=2", "teacher.finetune.eval_batch_size=0", "teacher.finetune.num_threads=-1",
        "teacher.finetune.frozen_layers=-1", "augmentation.cross_lingual_balance=-1",
        "teacher.finetune.precision=fp16", "teacher.inference.min_batch_size=0", "teacher.inference.max_batch_size=0",
        "teacher.inference.max_length=1", "teacher.inference.device=TPU",
        "student.projection.feature_size=0", "student.projection.feature_size=33",
        "student.projection.distortion_probability=2", "student.bottleneck_size=0", "student.qrnn.state_size=0",
        "student.qrnn.num_layers=0", "student.qrnn.kernel_width=0", "student.qrnn.zoneout_probability=-0.5",
        "student.max_tokens=0", "student.batch_norm_momentum=1", "distillation.temperature=0",
        "distillation.teacher_logit_scale=-1", "distillation.gold_weight=-1", "distillation.intent_weight=-1",
        "training.epochs=0", "training.epochs=-3", "training.patience=0", "training.min_delta=-1",
        "training.batch_size=0", "training.learning_rate=-0.001",
        "training.lr_decay_rate=0", "training.lr_decay_rate=1.5", "training.lr_decay_steps=0",
        "evaluation.fraction_of_teacher_threshold=1.5", "evaluation.fraction_of_teacher_threshold=-0.1",
        "evaluation.per_language_floor=2", "evaluation.gate=median", "evaluation.min_slice_examples=0",
        "evaluation.bootstrap_samples=-1", "evaluation.teacher_min_exact_match=-0.1",
        "evaluation.teacher_min_exact_match=1.01", "beam.profile=nowhere", "kubeflow.cpu_resources.gpu_count=-1",
    ],
)  # fmt: skip
def test_every_numeric_and_enumerated_key_is_range_checked(write_config, override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError) as err:
        load_config(write_config({}), [override])
    named = str(err.value).split(": ")[0]
    assert named.startswith(key) or named == key.rsplit(".", 1)[0], err.value
    assert "\n" not in str(err.value)


def test_yaml_errors_are_one_line_with_the_place(tmp_path):
    broken = tmp_path / "pipeline.yaml"
    broken.write_text("training:\n  epochs: [1, 2\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML: .* at line \d+, column \d+$") as err:
        load_config(str(broken))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"^training.epochs: override value '\[1' is not valid YAML") as err:
        load_config(None, ["training.epochs=[1"])
    assert "\n" not in str(err.value)
