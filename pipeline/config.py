"""The whole `pipeline.yaml`: every library's sections plus the pipeline's own, loaded and
validated together.

Sections live with the code that reads them (`beam_jobs.config`, `teacher.config`,
`pqrnn.config`); this module adds evaluation, push and Kubeflow settings, loading with
`--set` overrides, and the section picking that gives each component only what it reads.
Errors name the key path (`config_core.ConfigError`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence

import config_core
from beam_jobs.config import AugmentationConfig, BeamConfig, DataConfig
from config_core import ConfigError, ProjectConfig, at_least, within
from pqrnn.config import DistillationConfig, StudentConfig, TrainingConfig
from teacher.config import TeacherConfig

__all__ = ["Config", "ConfigError", "load_config", "config_from_json", "config_to_json"]


MAX_FRACTION = 1.25


@dataclass
class EvaluationConfig:
    # Blessing gate on student exact match / teacher exact match on the test split, over all
    # languages; the optional floor applies to every language with enough examples.
    fraction_of_teacher_threshold: float = 0.95
    # No language left behind: each language's fraction of teacher (README "Evaluation").
    per_language_floor: Optional[float] = 0.9
    # "point": the gate and the floor compare the point estimate; "lower_bound": the lower end
    # of its 95 % interval (paired bootstrap over examples).
    gate: Literal["point", "lower_bound"] = "point"
    # Slices with fewer examples are "too few to judge": shown, not gated by the floor.
    min_slice_examples: int = 100
    bootstrap_samples: int = 1000
    # A fraction of a weak teacher is not a result: the teacher's own exact match must reach
    # this overall and on every language (None: not checked). Whatever this is, the teacher
    # must not be clearly below the student (the fraction's interval must reach down to 1.1,
    # `models.fraction_of_teacher.ABOVE_TEACHER_BOUND`).
    teacher_min_exact_match: Optional[float] = 0.5

    def check(self, key: str, base_dir: str) -> None:
        # A student may beat its teacher a little (a ratio above 1), never by a quarter.
        within(f"{key}.fraction_of_teacher_threshold", self.fraction_of_teacher_threshold, 0.0, MAX_FRACTION)
        if self.per_language_floor is not None:
            within(f"{key}.per_language_floor", self.per_language_floor, 0.0, MAX_FRACTION)
        at_least(f"{key}.min_slice_examples", self.min_slice_examples, 1)
        at_least(f"{key}.bootstrap_samples", self.bootstrap_samples, 0)
        if self.teacher_min_exact_match is not None:
            within(f"{key}.teacher_min_exact_match", self.teacher_min_exact_match, 0.0, 1.0)


@dataclass
class PushConfig:
    serving_dir: str = "runs/serving"

    def check(self, key: str, base_dir: str) -> None:
        self.serving_dir = config_core.resolve_path(self.serving_dir, base_dir)


@dataclass
class ResourceConfig:
    cpu: str = "4"
    memory: str = "16G"
    gpu_type: Optional[str] = None
    gpu_count: int = 0

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.gpu_count", self.gpu_count, 0)


@dataclass
class KubeflowConfig:
    pipeline_root: str = "gs://YOUR_BUCKET/pqrnn-distill"
    # Where AtomicPusher publishes blessed students on Kubeflow (push.serving_dir is local).
    serving_dir: str = "gs://YOUR_BUCKET/pqrnn-distill/serving"
    cpu_image: str = "REGISTRY/pqrnn-distill:latest"
    gpu_image: str = "REGISTRY/pqrnn-distill-gpu:latest"
    cpu_resources: ResourceConfig = field(default_factory=ResourceConfig)
    gpu_resources: ResourceConfig = field(
        default_factory=lambda: ResourceConfig(cpu="8", memory="32G", gpu_type="nvidia.com/gpu", gpu_count=1)
    )
    # Components that run on gpu_image with gpu_resources; all others use the CPU ones.
    gpu_components: List[str] = field(default_factory=lambda: ["TeacherFinetune", "TeacherInference", "Trainer"])


@dataclass
class Config:
    project: ProjectConfig = field(default_factory=ProjectConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distillation: DistillationConfig = field(default_factory=DistillationConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    push: PushConfig = field(default_factory=PushConfig)
    beam: BeamConfig = field(default_factory=BeamConfig)
    kubeflow: KubeflowConfig = field(default_factory=KubeflowConfig)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> Config:
    """Load, override (`key.path=value`, value parsed as YAML) and validate a config; relative
    paths become relative to the config file."""
    raw, base_dir = config_core.read_yaml(path, overrides)
    config = config_core.build(Config, raw)
    config_core.check(config, "", base_dir)
    return config


def load_config_or_exit(path: Optional[str], overrides: Sequence[str] = ()) -> Config:
    """`load_config` for entry points: a config error prints one line and exits 2."""
    return config_core.or_exit(load_config, path, overrides)


def config_from_json(text: str) -> Config:
    """Rebuild a whole `Config` passed between processes; its paths were resolved when it was
    first loaded, so no file system checks are repeated."""
    return config_core.build(Config, json.loads(text))


def config_sections(config: Config, key_paths: Sequence[str]) -> Dict[str, Any]:
    """Only the sections at `key_paths` (e.g. `data`, `teacher.finetune`), nested as in the
    YAML: a component given only what it reads keeps its cache when the rest changes."""
    full = config.to_dict()
    picked: Dict[str, Any] = {}
    for key_path in key_paths:
        *parents, leaf = key_path.split(".")
        source, target = full, picked
        for key in parents:
            source, target = source[key], target.setdefault(key, {})
        target[leaf] = source[leaf]
    return picked


def config_to_json(config: Config, key_paths: Optional[Sequence[str]] = None) -> str:
    """The config as JSON, whole or only the sections at `key_paths` (see `config_sections`)."""
    return json.dumps(config.to_dict() if key_paths is None else config_sections(config, key_paths), sort_keys=True)


def override_config_json(text: str, overrides: Sequence[str]) -> Config:
    """A serialised config with `key.path=value` overrides applied and types validated; its
    paths are taken as given (they name places where the config is used, not this machine)."""
    raw = json.loads(text)
    for override in overrides:
        config_core.apply_override(raw, override)
    return config_core.build(Config, raw)
