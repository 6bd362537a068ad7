"""The config sections each stage reads, with their types: the one table of what a component
receives (its exec property or custom config carries exactly these, so changing anything
else keeps it cached, and a missing section is an error, never silent defaults)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Dict, List, Mapping

from beam_jobs.config import AugmentationConfig, DataConfig, UnlabeledSource
from pqrnn.config import DistillationConfig, StudentConfig, TrainingConfig
from teacher.config import TeacherFinetuneConfig, TeacherInferenceConfig


def _data_keys(*excluded: str) -> Dict[str, Any]:
    hints = typing.get_type_hints(DataConfig)
    return {f"data.{f.name}": hints[f.name] for f in dataclasses.fields(DataConfig) if f.name not in excluded}


def data_config(sections: Mapping[str, Any]) -> DataConfig:
    """The `data.*` keys a component was given as the DataConfig its job takes (the keys it was
    not given keep their defaults, which the job does not read)."""
    return DataConfig(**{key.split(".", 1)[1]: value for key, value in sections.items() if key.startswith("data.")})


# All of `data` but the unlabelled inputs, which only Augment reads: adding traffic re-runs
# Augment and what follows, not the dataset and the teacher fine-tune.
DATASET = {"project.seed": int, **_data_keys("unlabeled")}
# Of `data`, Augment reads the unlabelled inputs and the rules their rows obey.
AUGMENT = {
    "project.seed": int,
    "augmentation": AugmentationConfig,
    "teacher.base": str,  # its encoder induces the cross-lingual lexicon
    "teacher.cache_dir": str,
    "data.unlabeled": List[UnlabeledSource],
    "data.languages": List[str],
    "data.default_lang": str,
    "data.max_line_bytes": int,
    "data.max_tokens": int,
    "data.max_dead_letter_ratio": float,
}
TEACHER_FINETUNE = {
    "project.seed": int,
    "teacher.base": str,
    "teacher.cache_dir": str,
    "teacher.finetune": TeacherFinetuneConfig,
}
TEACHER_INFERENCE = {"teacher.inference": TeacherInferenceConfig}
TRAINER = {
    "project.seed": int,
    "student": StudentConfig,
    "distillation": DistillationConfig,
    "training": TrainingConfig,
}
