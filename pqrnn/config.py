"""Config sections of the student: `student`, `distillation`, `training` of pipeline.yaml.

Plain dataclasses with their range checks; the model library reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from config_core import ConfigError, at_least, positive, within


@dataclass
class ProjectionConfig:
    # Ternary features per token (2 hash bits each); 1024 puts the default student at ~1.05M
    # parameters, inside the paper's 1-2M range.
    feature_size: int = 1024
    add_bos_eos: bool = True
    distortion_probability: float = 0.1
    # The last `prefix_features` features of a word hash its first `prefix_chars` characters
    # instead of the whole word: inflections of a stem share them. 0: whole words only.
    prefix_features: int = 0
    # Characters (code points) of a word that its prefix features hash.
    prefix_chars: int = 4
    # The `ngram_features` features before the prefix ones are the sign of the summed hashes of
    # the word's character `ngram_chars`-grams (a space at each end): words sharing pieces
    # anywhere ("storm", "thunderstorm") share them. 0: none.
    ngram_features: int = 0
    ngram_chars: int = 3
    # The `case_features` features before the n-gram ones hash the word's case shape as written
    # (first character upper case, another character upper case), which lower-casing drops:
    # names are what real utterances hold that the training rows lack. 0: none.
    case_features: int = 0

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.feature_size", self.feature_size, 1)
        within(f"{key}.prefix_features", self.prefix_features, 0, self.feature_size)
        at_least(f"{key}.prefix_chars", self.prefix_chars, 1)
        within(f"{key}.ngram_features", self.ngram_features, 0, self.feature_size - self.prefix_features)
        within(
            f"{key}.case_features",
            self.case_features,
            0,
            self.feature_size - self.prefix_features - self.ngram_features,
        )
        at_least(f"{key}.ngram_chars", self.ngram_chars, 1)
        if self.feature_size % 2:
            raise ConfigError(f"{key}.feature_size", "must be even (two hash bits per feature pair)")
        within(f"{key}.distortion_probability", self.distortion_probability, 0.0, 1.0)


@dataclass
class QRNNConfig:
    state_size: int = 128
    num_layers: int = 2
    kernel_width: int = 3
    zoneout_probability: float = 0.2

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.state_size", self.state_size, 1)
        at_least(f"{key}.num_layers", self.num_layers, 1)
        at_least(f"{key}.kernel_width", self.kernel_width, 1)
        within(f"{key}.zoneout_probability", self.zoneout_probability, 0.0, 1.0)


@dataclass
class StudentConfig:
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    bottleneck_size: int = 128
    qrnn: QRNNConfig = field(default_factory=QRNNConfig)
    max_tokens: int = 64
    # Quantization-aware training (8-bit fake quantization of weights and activations).
    quantize: bool = True
    batch_norm_momentum: float = 0.99
    # Batch renormalisation (pqrnn.layers.MaskedBatchNorm): length-bucketed batches are not
    # alike, so training normalises with the moving statistics, as inference does.
    batch_renorm: bool = True

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.bottleneck_size", self.bottleneck_size, 1)
        at_least(f"{key}.max_tokens", self.max_tokens, 1)
        within(f"{key}.batch_norm_momentum", self.batch_norm_momentum, 0.0, 0.9999)


@dataclass
class DistillationConfig:
    temperature: float = 1.0
    # The slot head's temperature; None: `temperature`.
    slot_temperature: Optional[float] = None
    # Multiplier on teacher logits before the softmax (the paper's "logit scaling").
    teacher_logit_scale: float = 1.0
    # Weight of the gold-label term; applies only to rows that carry gold labels.
    gold_weight: float = 0.5
    intent_weight: float = 1.0
    slot_weight: float = 1.0

    def check(self, key: str, base_dir: str) -> None:
        positive(f"{key}.temperature", self.temperature)
        if self.slot_temperature is not None:
            positive(f"{key}.slot_temperature", self.slot_temperature)
        positive(f"{key}.teacher_logit_scale", self.teacher_logit_scale)
        for name in ("gold_weight", "intent_weight", "slot_weight"):
            at_least(f"{key}.{name}", getattr(self, name), 0.0)
        if self.intent_weight + self.slot_weight <= 0:
            raise ConfigError(f"{key}.intent_weight", "intent_weight + slot_weight must be > 0 (nothing to learn)")


@dataclass
class TrainingConfig:
    # The budget: at most this many passes over the train split. Training stops earlier when
    # validation exact match has not gained `min_delta` in `patience` epochs (then the
    # quantization-aware epochs follow, see pqrnn.train.StopOnPlateau).
    epochs: int = 12
    patience: int = 3
    min_delta: float = 0.001
    batch_size: int = 128
    learning_rate: float = 1.5e-3
    lr_decay_rate: float = 0.7
    lr_decay_steps: int = 400
    # Rows of language l drawn with probability ~ n_l ** exponent: 1 keeps the data's mix, lower
    # values give small languages more of each epoch (see pqrnn.data.make_dataset).
    language_sampling_exponent: float = 1.0
    # The same by the teacher's intent: rare intents get more of each epoch (pqrnn.data.intent_balanced).
    intent_sampling_exponent: float = 1.0
    # > 0: each epoch is scored, kept and exported with an exponential moving average of the
    # trainable weights at this decay per step (pqrnn.train.AverageWeights); 0: the weights as trained.
    weight_average_decay: float = 0.0
    # With student.quantize: only the last N epochs train with fake quantization, the ones
    # before in float (a quarter faster per step); None: every epoch.
    quantization_aware_epochs: Optional[int] = None
    # Training convolutions in bfloat16 (pqrnn.layers.bfloat16_matmul); None: when training on
    # a CPU with native bf16 (AMX or AVX512-BF16) and no GPU, where it is ~1.5x faster.
    bfloat16_matmuls: Optional[bool] = None

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.epochs", self.epochs, 1)
        at_least(f"{key}.patience", self.patience, 1)
        at_least(f"{key}.min_delta", self.min_delta, 0.0)
        if self.quantization_aware_epochs is not None:
            at_least(f"{key}.quantization_aware_epochs", self.quantization_aware_epochs, 1)
        at_least(f"{key}.batch_size", self.batch_size, 1)
        positive(f"{key}.learning_rate", self.learning_rate)
        within(f"{key}.lr_decay_rate", self.lr_decay_rate, 1e-9, 1.0)
        at_least(f"{key}.lr_decay_steps", self.lr_decay_steps, 1)
        within(f"{key}.language_sampling_exponent", self.language_sampling_exponent, 0.0, 1.0)
        within(f"{key}.intent_sampling_exponent", self.intent_sampling_exponent, 0.0, 1.0)
        if not 0.0 <= self.weight_average_decay < 1.0:
            raise ConfigError(f"{key}.weight_average_decay", f"must be in [0, 1), got {self.weight_average_decay}")
