"""A tiny randomly initialised BERT with an in-memory WordPiece tokenizer (tests, no download)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Optional


def make_tiny_base(
    output_dir: str,
    corpus: Iterable[str],
    vocab_size: Optional[int] = None,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    max_positions: int = 128,
    seed: int = 0,
) -> str:
    """Write a tiny `BertModel` + `BertTokenizerFast` folder usable as `teacher.base`.

    The WordPiece vocabulary is every character and every whitespace-separated word of
    `corpus` (lower-cased), each also as a "##" continuation piece: deterministic (a
    trained vocabulary differs from run to run), words outside it split into several
    sub-tokens, and a no-space run like "เปิดไฟครัว" splits as "เปิดไฟ" + "##ครัว" when
    the corpus lists those parts separately. `vocab_size` caps the vocabulary: the
    characters always stay, the most frequent words fill the rest.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)  # keep Thai marks
    texts = [normalizer.normalize_str(t) for t in corpus]
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    counts = Counter(w for t in texts for w in t.split() if len(w) > 1)
    words = sorted(counts, key=lambda w: (-counts[w], w))
    if vocab_size is not None:
        words = words[: max(0, (vocab_size - len(specials)) // 2 - len(chars))]
    units = chars + words
    vocab = {token: i for i, token in enumerate(specials + units + ["##" + u for u in units])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_positions,
        strip_accents=False,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_positions,
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
    "เปิด ไฟ ใน ห้อง นอน",  # Thai words listed apart: the no-space run splits into them
)


def tiny_base(output_dir: str, corpus: Optional[Iterable[str]] = None) -> str:
    """`make_tiny_base` on a small built-in multilingual corpus."""
    return make_tiny_base(output_dir, corpus if corpus is not None else TINY_CORPUS)
