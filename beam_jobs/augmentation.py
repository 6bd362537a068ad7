"""Paraphrase-style augmentation methods: each makes a new, unlabelled text from a training row.

The teacher labels the new texts later, as in the paper, where paraphrases come from
round-trip translation. The offline methods here need no model; `translate_words` needs a
lexicon (`teacher.lexicon` induces one from the teacher's encoder); `RoundTripTranslator` runs
Hugging Face seq2seq models given in the config.
"""

from __future__ import annotations

import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

from schemas.features import bio_spans
from tokenization import tokenize

_SPACES = re.compile(r"\s+")
# (lang, slot name) -> surface values seen in the training split.
ValueLists = Dict[Tuple[str, str], List[str]]


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def slot_spans(text: str, tags: Sequence[str]) -> List[Tuple[int, int, str]]:
    """Character spans of the BIO slots of `text` (tags are aligned with `tokenize(text)`)."""
    tokens = tokenize(text)
    return [(tokens[start].start, tokens[end - 1].end, name) for start, end, name in bio_spans(tags[: len(tokens)])]


def slot_values(text: str, tags: Sequence[str]) -> List[Tuple[str, str]]:
    return [(name, text[start:end]) for start, end, name in slot_spans(text, tags)]


def slot_resample(text: str, tags: Sequence[str], lang: str, values: ValueLists, rng: random.Random) -> Optional[str]:
    """Replace every slot value by another value of the same slot seen in training."""
    spans = slot_spans(text, tags)
    if not spans:
        return None
    pieces, pos, changed = [], 0, False
    for start, end, name in spans:
        options = [v for v in values.get((lang, name), []) if v != text[start:end]]
        pieces.append(text[pos:start])
        if options:
            pieces.append(rng.choice(options))
            changed = True
        else:
            pieces.append(text[start:end])
        pos = end
    pieces.append(text[pos:])
    return _clean("".join(pieces)) if changed else None


def slot_edges(text: str, tags: Sequence[str]) -> Dict[str, int]:
    """Where a row may be joined to another: "B-X" at the start of its first X slot value,
    "E-X" at the first word after it (none when the value ends the row), as character offsets."""
    tokens = tokenize(text)
    edges: Dict[str, int] = {}
    for start, end, name in bio_spans(tags[: len(tokens)]):
        edges.setdefault(f"B-{name}", tokens[start].start)
        if end < len(tokens):
            edges.setdefault(f"E-{name}", tokens[end].start)
    return edges


def recombine(
    text: str, edges: Dict[str, int], partners: Sequence[Tuple[str, Dict[str, int]]], rng: random.Random
) -> Optional[str]:
    """This row up to one of its `slot_edges` and another row of the same intent and language
    (one of `partners`: (text, slot edges)) from the same edge on: a new utterance made of two
    real ones, joined where a slot starts or ends ("set an alarm for" + "6 tomorrow")."""
    others = [
        (other, other_edges, [edge for edge in sorted(edges) if edge in other_edges])
        for other, other_edges in partners
        if other != text
    ]
    others = [choice for choice in others if choice[2]]
    if not others:
        return None
    other, other_edges, shared = rng.choice(others)
    edge = rng.choice(shared)
    return _clean(text[: edges[edge]] + other[other_edges[edge] :])


def word_dropout(text: str, rng: random.Random) -> Optional[str]:
    """Drop one word (never the only one)."""
    tokens = tokenize(text)
    if len(tokens) < 3:
        return None
    token = rng.choice(tokens)
    return _clean(text[: token.start] + text[token.end :])


def word_swap(text: str, rng: random.Random) -> Optional[str]:
    """Swap two neighbouring words."""
    tokens = tokenize(text)
    if len(tokens) < 2:
        return None
    i = rng.randrange(len(tokens) - 1)
    a, b = tokens[i], tokens[i + 1]
    middle = text[a.end : b.start]
    return text[: a.start] + b.text + middle + a.text + text[b.end :]


def char_distortion(text: str, rng: random.Random) -> Optional[str]:
    """One character edit inside a word: delete, swap with the next, or repeat a character."""
    words = [t for t in tokenize(text) if len(t.text) >= 3]
    if not words:
        return None
    word = rng.choice(words)
    chars = list(word.text)
    i = rng.randrange(len(chars) - 1)
    edit = rng.randrange(3)
    if edit == 0:
        del chars[i]
    elif edit == 1:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars.insert(i, chars[i])
    return text[: word.start] + "".join(chars) + text[word.end :]


def translate_words(text: str, lexicon: Dict[str, List[str]], rng: random.Random) -> Optional[str]:
    """Word-by-word translation: each word the lexicon knows (case-folded) becomes one of its
    translations, chosen at random; other tokens (numbers, punctuation) stay."""
    out, changed = [], False
    for token in tokenize(text):
        options = lexicon.get(token.text.casefold())
        out.append(rng.choice(options) if options else token.text)
        changed = changed or bool(options)
    return _clean(" ".join(out)) if changed else None


class RoundTripTranslator:
    """Paraphrase by translating to a pivot language and back with two seq2seq models."""

    def __init__(self, to_pivot: str, from_pivot: str, num_beams: int = 1, max_length: int = 64):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self._models = []
        for path in (to_pivot, from_pivot):
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True).eval()
            self._models.append((tokenizer, model))
        self._num_beams = num_beams
        self._max_length = max_length

    def _translate(self, index: int, texts: List[str]) -> List[str]:
        import torch

        tokenizer, model = self._models[index]
        batch = tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_token_type_ids=False,
        )
        with torch.no_grad():
            generated = model.generate(**batch, num_beams=self._num_beams, max_new_tokens=self._max_length)
        return tokenizer.batch_decode(generated, skip_special_tokens=True)

    def __call__(self, texts: List[str]) -> List[str]:
        """Paraphrases in input order; "" where the pivot translation came out empty."""
        pivots = self._translate(0, texts)
        keep = [i for i, t in enumerate(pivots) if t.strip()]
        back = self._translate(1, [pivots[i] for i in keep]) if keep else []
        out = [""] * len(texts)
        for i, text in zip(keep, back):
            out[i] = _clean(text)
        return out
