"""The joint intent + slot teacher: any Hugging Face encoder with two linear heads.

* intent head on the first token's final hidden state (`<s>` / `[CLS]`);
* slot head on the **first sub-token of each word** of the dataset's `tokens`, gathered
  through `word_index`, so slot logits come out word-aligned: `[batch, words, tags]`;
  a learned `continuation` vector is added for words whose sub-token began in an
  earlier word (one-character Thai/CJK words sharing a piece, see `teacher.inputs`).

The class is a plain `PreTrainedModel` (so `save_pretrained`/`from_pretrained` work and
the label maps travel in `config.json`); loading never needs `trust_remote_code`, only
this module. `forward` takes tensors and returns a `ModelOutput` (a dict), which is what
Beam's `HuggingFaceModelHandlerKeyedTensor`/`PytorchModelHandlerKeyedTensor` expect:
feed it the dicts from `teacher.inputs.encode_words(..., pad=True)`.
This module needs only torch and transformers (no other project code), so a saved
teacher loads anywhere `teacher.model` is importable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import nn

# (teacher/__init__.py has already set the offline / no-TensorFlow environment.)
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput
from transformers.utils import logging as hf_logging

IGNORE_INDEX = -100  # label value the losses skip (padding, truncated words)


class JointTeacherConfig(PretrainedConfig):
    model_type = "pqrnn_joint_teacher"

    def __init__(
        self,
        encoder: Optional[Dict[str, Any]] = None,
        intent_labels: Sequence[str] = (),
        slot_labels: Sequence[str] = (),
        classifier_dropout: float = 0.1,
        intent_pooling: str = "first",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # The encoder's own config as a dict (with its model_type), so the encoder can be
        # rebuilt from this config alone, without the base folder.
        self.encoder = dict(encoder or {})
        self.intent_labels = list(intent_labels)
        self.slot_labels = list(slot_labels)
        self.classifier_dropout = classifier_dropout
        # What the intent head reads: "first" the first token's state, "mean" the mean over
        # the tokens (what e5 encoders are trained to embed with).
        self.intent_pooling = intent_pooling

    def encoder_config(self) -> PretrainedConfig:
        fields = dict(self.encoder)
        return AutoConfig.for_model(fields.pop("model_type"), **fields)


@dataclass
class JointTeacherOutput(ModelOutput):
    loss: Optional[torch.FloatTensor] = None
    intent_logits: Optional[torch.FloatTensor] = None  # [batch, intents]
    slot_logits: Optional[torch.FloatTensor] = None  # [batch, words, slot tags]


def _build_encoder(config: PretrainedConfig) -> nn.Module:
    try:  # BERT-like encoders: the pooler is unused here, and e5 ships none
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


class JointTeacher(PreTrainedModel):
    config_class = JointTeacherConfig
    base_model_prefix = "encoder"

    def __init__(self, config: JointTeacherConfig):
        super().__init__(config)
        if not config.intent_labels or not config.slot_labels:
            raise ValueError("JointTeacherConfig needs non-empty intent_labels and slot_labels")
        self.encoder = _build_encoder(config.encoder_config())
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.intent_head = nn.Linear(hidden, len(config.intent_labels))
        self.slot_head = nn.Linear(hidden, len(config.slot_labels))
        # Added to a word's sub-token state when the sub-token began in an earlier word
        # (several one-character Thai/CJK words share a piece): tells them apart.
        self.continuation = nn.Embedding(2, hidden)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Only the heads are ours; encoder weights come from the base or the checkpoint.
        if module is self.intent_head or module is self.slot_head:
            module.weight.data.normal_(0.0, 0.02)
            module.bias.data.zero_()
        elif module is self.continuation:
            module.weight.data.zero_()

    @classmethod
    def from_base(
        cls,
        base_dir: str,
        intent_labels: Sequence[str],
        slot_labels: Sequence[str],
        classifier_dropout: float = 0.1,
        intent_pooling: str = "first",
    ) -> "JointTeacher":
        """A new joint model on a pretrained encoder folder, with freshly initialised heads."""
        encoder_config = AutoConfig.from_pretrained(base_dir)
        config = JointTeacherConfig(
            encoder=encoder_config.to_dict(),
            intent_labels=intent_labels,
            slot_labels=slot_labels,
            classifier_dropout=classifier_dropout,
            intent_pooling=intent_pooling,
        )
        model = cls(config)
        # A base's pooler weights are left out on purpose; silence the "not used" warning.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            encoder = AutoModel.from_pretrained(base_dir, add_pooling_layer=False)
        except TypeError:
            encoder = AutoModel.from_pretrained(base_dir)
        finally:
            hf_logging.set_verbosity(verbosity)
        model.encoder.load_state_dict(encoder.state_dict(), strict=True)
        return model

    def freeze(self, word_embeddings: bool, layers: int) -> None:
        """Stop training the word embeddings, or (`layers` > 0) all the embeddings and the first
        `layers` transformer layers; raises ValueError for more layers than the encoder has."""
        if word_embeddings:
            self.encoder.get_input_embeddings().weight.requires_grad_(False)
        if not layers:
            return
        count = self.encoder.config.num_hidden_layers
        blocks = next(
            (m for m in self.encoder.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == count), None
        )
        if blocks is None or layers > count:
            found = count if blocks is not None else "no"
            raise ValueError(f"cannot freeze {layers} layers: the encoder has {found} layers")
        # All the embeddings (positions, token types, their LayerNorm), where the encoder names them.
        embeddings = getattr(self.encoder, "embeddings", None)
        (embeddings if embeddings is not None else self.encoder.get_input_embeddings()).requires_grad_(False)
        for block in blocks[:layers]:
            block.requires_grad_(False)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        word_index: torch.LongTensor,
        word_mask: Optional[torch.LongTensor] = None,
        word_continuation: Optional[torch.LongTensor] = None,
        token_type_ids: Optional[torch.LongTensor] = None,
        intent_labels: Optional[torch.LongTensor] = None,
        slot_labels: Optional[torch.LongTensor] = None,
    ) -> JointTeacherOutput:
        """Intent logits `[B, intents]` and word-aligned slot logits `[B, W, tags]`.

        `word_index[b, w]` is the position of word w's first sub-token; `word_continuation`
        is 1 where that sub-token began in an earlier word; `word_mask` marks real words
        (padding and truncated words are 0 and get no slot loss). Labels are optional;
        with them the output carries the summed cross-entropy loss.
        """
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        hidden = self.dropout(hidden)
        if getattr(self.config, "intent_pooling", "first") == "mean":
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        else:
            pooled = hidden[:, 0]
        intent_logits = self.intent_head(pooled)
        index = word_index.long().unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        word_states = torch.gather(hidden, 1, index)
        if word_continuation is not None:
            word_states = word_states + self.continuation(word_continuation.long())
        slot_logits = self.slot_head(word_states)
        loss = None
        if intent_labels is not None or slot_labels is not None:
            loss = hidden.new_zeros(())
            if intent_labels is not None:
                loss = loss + nn.functional.cross_entropy(intent_logits, intent_labels, ignore_index=IGNORE_INDEX)
            if slot_labels is not None:
                if word_mask is not None:
                    slot_labels = slot_labels.masked_fill(word_mask == 0, IGNORE_INDEX)
                if (slot_labels != IGNORE_INDEX).any():
                    loss = loss + nn.functional.cross_entropy(
                        slot_logits.flatten(0, 1), slot_labels.flatten(), ignore_index=IGNORE_INDEX
                    )
        return JointTeacherOutput(loss=loss, intent_logits=intent_logits, slot_logits=slot_logits)


# Lets `AutoModel.from_pretrained(folder)` load a teacher once this module is imported
# (still no remote code: the class is ours).
AutoConfig.register(JointTeacherConfig.model_type, JointTeacherConfig)
AutoModel.register(JointTeacherConfig, JointTeacher)


def load_tokenizer(path: str) -> "transformers.PreTrainedTokenizerFast":  # noqa: F821
    """A fast tokenizer from a local folder (fast: `encode_words` needs word ids)."""
    # fix_mistral_regex=False: transformers 4.57.6 warns about a Mistral regex for *any*
    # local folder saved by 4.57.3+; these tokenizers are not Mistral's.
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, fix_mistral_regex=False)
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: a fast (Rust) tokenizer is required for word alignment")
    return tokenizer


def load_teacher(path: str) -> Tuple[JointTeacher, "transformers.PreTrainedTokenizerFast"]:  # noqa: F821
    """A fine-tuned teacher folder -> (model in eval mode, tokenizer)."""
    return JointTeacher.from_pretrained(path).eval(), load_tokenizer(path)
