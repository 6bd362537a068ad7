"""Turn the dataset's words into teacher inputs with a word -> first-sub-token map."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from teacher.model import IGNORE_INDEX
from tokenization import is_character_token

_SENTINEL = -7  # placeholder id used to find where content starts between special tokens


def _bare_metaspace_id(tokenizer: Any) -> Optional[int]:
    # SentencePiece tokenizers split an unknown word "▁x" into a bare "▁" piece + "x".
    token_id = tokenizer.convert_tokens_to_ids("\u2581")
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id


def _runs(words: Sequence[str]) -> List[List[int]]:
    """Word indices grouped into runs: consecutive characters of a no-space script form one run
    (they were written without spaces), every other word is a run of its own."""
    runs: List[List[int]] = []
    for i, word in enumerate(words):
        if runs and is_character_token(word) and is_character_token(words[runs[-1][-1]]):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _align(words: Sequence[str], tokenizer: Any) -> Tuple[List[int], List[int], List[int]]:
    """(sub-token ids, position of each word's sub-token or -1, continuation flag per word)."""
    runs = _runs(words)
    texts = ["".join(words[i] for i in run) for run in runs]
    enc = tokenizer(texts, is_split_into_words=True, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    metaspace = _bare_metaspace_id(tokenizer)
    positions: List[List[int]] = [[] for _ in runs]
    for pos, r in enumerate(enc.word_ids()):
        # A bare "▁" is never a word's sub-token: it says nothing about the word.
        if ids[pos] != metaspace:
            positions[r].append(pos)
    first = [-1] * len(words)
    continuation = [0] * len(words)
    for r, run in enumerate(runs):
        start = 0  # character offset of each word inside its run's text
        for w in run:
            # The sub-token holding the word's first character (or the next one, when
            # normalisation removed that character).
            pos = next((p for p in positions[r] if offsets[p][1] > start), -1)
            if pos >= 0:
                first[w] = pos
                continuation[w] = int(offsets[pos][0] < start)
            start += len(words[w])
    return ids, first, continuation


def encode_words(
    tokens: Sequence[str],
    tokenizer: Any,
    max_length: int,
    max_words: Optional[int] = None,
    pad: bool = False,
) -> Dict[str, torch.Tensor]:
    """Model inputs for one example given as words (the dataset's `tokens`).

    Returns 1-D tensors `input_ids`, `attention_mask` (length <= max_length) and, one
    entry per word (at most `max_words`), `word_index`: position of the word's first
    sub-token; `word_continuation`: 1 when that sub-token started in an earlier word;
    `word_mask`: 0 when the word has no sub-token within `max_length` (its `word_index`
    is then 0 and its slot logits meaningless). With `pad=True` every tensor is padded
    to `max_length` / `max_words`, so examples stack into a batch without a collate
    function (what Beam's keyed-tensor handlers do). Needs a fast tokenizer.

    Words are tokenised as written: a run of no-space-script words (Thai, CJK: one
    character per word) is tokenised as the one string it was in the text, so the
    encoder sees its usual pieces (e.g. Thai "ห้อง" + "ครัว", not 8 single characters);
    a piece then holds several words, and `word_continuation` tells the slot head which
    of them begins the piece. A bare SentencePiece "▁" piece (rare words and scripts
    split as "▁" + "x") stays in the input but is never a word's sub-token.
    """
    if max_words is None:
        if pad:
            raise ValueError("pad=True needs max_words")
        max_words = len(tokens)
    if not tokens:
        raise ValueError("an example needs at least one word")
    words = list(tokens)[:max_words]
    ids, first, continuation = _align(words, tokenizer)

    specials = tokenizer.build_inputs_with_special_tokens([_SENTINEL])
    offset = specials.index(_SENTINEL)
    budget = max_length - (len(specials) - 1)
    if budget < 1:
        raise ValueError(f"max_length={max_length} leaves no room next to the special tokens")
    input_ids = specials[:offset] + ids[:budget] + specials[offset + 1 :]
    word_mask = [1 if 0 <= f < budget else 0 for f in first]
    word_index = [f + offset if m else 0 for f, m in zip(first, word_mask)]
    continuation = [c * m for c, m in zip(continuation, word_mask)]
    attention = [1] * len(input_ids)
    if pad:
        fill = max_length - len(input_ids)
        input_ids = input_ids + [tokenizer.pad_token_id] * fill
        attention = attention + [0] * fill
        word_fill = [0] * (max_words - len(word_index))
        word_index, word_mask, continuation = word_index + word_fill, word_mask + word_fill, continuation + word_fill
    return {
        "input_ids": torch.tensor(input_ids, dtype=torch.long),
        "attention_mask": torch.tensor(attention, dtype=torch.long),
        "word_index": torch.tensor(word_index, dtype=torch.long),
        "word_continuation": torch.tensor(continuation, dtype=torch.long),
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
