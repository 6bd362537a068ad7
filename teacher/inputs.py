"""Turn the dataset's words into teacher inputs with a word -> first-sub-token map."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from teacher.model import IGNORE_INDEX
from tokenization import NO_SPACE_RANGES

_SENTINEL = -7  # placeholder id used to find where content starts between special tokens


def _is_no_space(word: str) -> bool:
    cp = ord(word[0])
    return any(lo <= cp <= hi for lo, hi in NO_SPACE_RANGES)


def _bare_metaspace_id(tokenizer: Any) -> Optional[int]:
    # SentencePiece tokenizers split an unknown word "▁x" into a bare "▁" piece + "x".
    token_id = tokenizer.convert_tokens_to_ids("\u2581")
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id


def _word_pieces(words: Sequence[str], tokenizer: Any) -> List[List[int]]:
    """Sub-token ids of each word."""
    enc = tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
    pieces: List[List[int]] = [[] for _ in words]
    for token_id, w in zip(enc["input_ids"], enc.word_ids()):
        pieces[w].append(token_id)
    if _bare_metaspace_id(tokenizer) is not None:
        # A SentencePiece pre-tokenizer puts a "▁" (space) before every word. Inside a run
        # of no-space-script words (Thai, CJK: one character per word) the text has no
        # space, so those words skip the pre-tokenizer and get the pieces used inside words.
        backend = tokenizer.backend_tokenizer
        for w in range(1, len(words)):
            if _is_no_space(words[w]) and _is_no_space(words[w - 1]):
                text = backend.normalizer.normalize_str(words[w]) if backend.normalizer else words[w]
                pieces[w] = [t.id for t in backend.model.tokenize(text)]
    return pieces


def encode_words(
    tokens: Sequence[str],
    tokenizer: Any,
    max_length: int,
    max_words: Optional[int] = None,
    pad: bool = False,
) -> Dict[str, torch.Tensor]:
    """Model inputs for one example given as words (the dataset's `tokens`).

    Returns 1-D tensors `input_ids`, `attention_mask` (length <= max_length) and
    `word_index`, `word_mask` (one entry per word, at most `max_words`): `word_index[w]`
    is the position of word w's first sub-token, `word_mask[w]` is 0 when the word has no
    sub-token within `max_length` (its `word_index` is then 0 and its slot logits
    meaningless). With `pad=True` every tensor is padded to `max_length` / `max_words`,
    so examples stack into a batch without a collate function (what Beam's keyed-tensor
    handlers do). Needs a fast tokenizer.

    A word that SentencePiece splits into a bare "▁" piece plus more pieces (common for
    rare words and scripts) keeps the "▁" in the input, but its first sub-token is taken
    to be the piece after it: a bare "▁" says nothing about the word.
    """
    if max_words is None:
        if pad:
            raise ValueError("pad=True needs max_words")
        max_words = len(tokens)
    if not tokens:
        raise ValueError("an example needs at least one word")
    words = list(tokens)[:max_words]
    metaspace = _bare_metaspace_id(tokenizer)
    ids: List[int] = []
    first: List[int] = []
    for word_pieces in _word_pieces(words, tokenizer):
        skip = 1 if len(word_pieces) > 1 and word_pieces[0] == metaspace else 0
        first.append(len(ids) + skip if word_pieces else -1)
        ids.extend(word_pieces)

    specials = tokenizer.build_inputs_with_special_tokens([_SENTINEL])
    offset = specials.index(_SENTINEL)
    budget = max_length - (len(specials) - 1)
    if budget < 1:
        raise ValueError(f"max_length={max_length} leaves no room next to the special tokens")
    input_ids = specials[:offset] + ids[:budget] + specials[offset + 1 :]
    word_mask = [1 if 0 <= f < budget else 0 for f in first]
    word_index = [f + offset if m else 0 for f, m in zip(first, word_mask)]
    attention = [1] * len(input_ids)
    if pad:
        fill = max_length - len(input_ids)
        input_ids = input_ids + [tokenizer.pad_token_id] * fill
        attention = attention + [0] * fill
        word_index = word_index + [0] * (max_words - len(word_index))
        word_mask = word_mask + [0] * (max_words - len(word_mask))
    return {
        "input_ids": torch.tensor(input_ids, dtype=torch.long),
        "attention_mask": torch.tensor(attention, dtype=torch.long),
        "word_index": torch.tensor(word_index, dtype=torch.long),
        "word_mask": torch.tensor(word_mask, dtype=torch.long),
    }


def collate(features: Sequence[Dict[str, torch.Tensor]], pad_token_id: int) -> Dict[str, torch.Tensor]:
    """Pad a list of `encode_words` outputs (plus optional labels) to the batch's longest."""
    batch: Dict[str, torch.Tensor] = {}
    pad_values = {"input_ids": pad_token_id, "slot_labels": IGNORE_INDEX}
    for key in features[0]:
        values = [f[key] for f in features]
        if values[0].dim() == 0:
            batch[key] = torch.stack(values)
        else:
            batch[key] = nn.utils.rnn.pad_sequence(values, batch_first=True, padding_value=pad_values.get(key, 0))
    return batch
