"""The config sections each stage reads, with their types: the one table of what a component
receives (its exec property or custom config carries exactly these, so changing anything
else keeps it cached, and a missing section is an error, never silent defaults)."""

from __future__ import annotations

from beam_jobs.config import AugmentationConfig, DataConfig
from pqrnn.config import DistillationConfig, StudentConfig, TrainingConfig
from teacher.config import TeacherFinetuneConfig, TeacherInferenceConfig

DATASET = {"project.seed": int, "data": DataConfig}
AUGMENT = {"project.seed": int, "augmentation": AugmentationConfig}
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
