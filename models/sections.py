"""The config sections each stage reads, with their types: the one table of what a component
receives (its exec property or custom config carries exactly these, so changing anything
else keeps it cached, and a missing section is an error, never silent defaults)."""

from __future__ import annotations

from typing import List

from beam_jobs.config import AugmentationConfig, DataConfig, UnlabeledSource
from pqrnn.config import DistillationConfig, StudentConfig, TrainingConfig
from teacher.config import TeacherFinetuneConfig, TeacherInferenceConfig

DATASET = {"project.seed": int, "data": DataConfig}
# Of `data`, Augment reads the unlabelled inputs and the rules their rows obey.
AUGMENT = {
    "project.seed": int,
    "augmentation": AugmentationConfig,
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
