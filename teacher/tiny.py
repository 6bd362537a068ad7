"""A tiny randomly initialised BERT with an in-memory WordPiece tokenizer (tests, no download)."""

from __future__ import annotations

import os
from typing import Iterable, Optional

from teacher import model as _model  # noqa: F401  (sets the offline/no-TF environment first)


def make_tiny_base(
    output_dir: str,
    corpus: Iterable[str],
    vocab_size: int = 400,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    max_positions: int = 128,
    seed: int = 0,
) -> str:
    """Write a tiny `BertModel` + `BertTokenizerFast` folder usable as `teacher.base`.

    The WordPiece vocabulary is trained on `corpus`, so words outside it split into
    several sub-tokens (what the word-alignment tests need).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(list(corpus), trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=max_positions,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=4 * hidden_size, max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    os.makedirs(output_dir, exist_ok=True)
    BertModel(config, add_pooling_layer=False).save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


TINY_CORPUS = (
    "turn on the light in the kitchen",
    "turn off the light in the bedroom",
    "set the temperature to twenty degrees",
    "what is the weather like today",
    "schalte das licht in der küche an",
    "enciende la luz de la cocina",
    "allume la lumière du salon",
    "เปิดไฟในห้องนอน",
)


def tiny_base(output_dir: str, corpus: Optional[Iterable[str]] = None) -> str:
    """`make_tiny_base` on a small built-in multilingual corpus."""
    return make_tiny_base(output_dir, corpus if corpus is not None else TINY_CORPUS)
