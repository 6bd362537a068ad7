"""Seeded sampler over the `home-assistant-intents` sentence templates.

Walks hassil's expression tree (Alternative, Permutation, Sequence/Group, RuleReference,
ListReference, TextChunk) and records the character span of every list value, so each
utterance comes with its intent and slot spans.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import yaml
from hassil.expression import (
    Alternative,
    Expression,
    Group,
    ListReference,
    Permutation,
    RuleReference,
    TextChunk,
)
from hassil.intents import Intents, RangeSlotList, SlotList, TextSlotList, WildcardSlotList
from home_assistant_intents import get_intents, get_languages

BUILTIN_VALUE_LISTS = os.path.join(os.path.dirname(__file__), "data", "home_assistant_values.yaml")
_MAX_DEPTH = 32
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TemplateRef:
    """One sentence template; small and picklable so Beam can ship it to workers."""

    lang: str
    intent: str
    block: int
    index: int
    template: str

    @property
    def group_id(self) -> str:
        # Identical template text in one language is one group, whatever intent block it is in.
        digest = hashlib.sha1(self.template.encode("utf-8")).hexdigest()[:16]
        return f"home_assistant:{self.lang}:{digest}"


@dataclass
class Utterance:
    text: str
    # (start, end, slot name) character spans in `text`.
    spans: List[Tuple[int, int, str]]


class SkipTemplate(Exception):
    """The template needs a list that has no values (wildcard or missing)."""


def load_value_lists(path: str) -> Dict[str, Dict[str, List[str]]]:
    with open(BUILTIN_VALUE_LISTS if path == "builtin" else path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return {lang: {name: [str(v) for v in values] for name, values in lists.items()} for lang, lists in data.items()}


@functools.lru_cache(maxsize=None)
def _language_intents(lang: str) -> Intents:
    raw = get_intents(lang)
    if raw is None:
        raise ValueError(f"home-assistant-intents has no language {lang!r} (available: {', '.join(get_languages())})")
    return Intents.from_dict(raw)


def _slot_lists(lang: str, value_lists: Dict[str, Dict[str, List[str]]]) -> Dict[str, SlotList]:
    extra = {
        name: TextSlotList.from_strings(values, allow_template=False, name=name)
        for name, values in value_lists.get(lang, {}).items()
    }
    return {**extra, **_language_intents(lang).slot_lists}


def list_templates(
    languages: List[str], value_lists: Dict[str, Dict[str, List[str]]], skip_wildcards: bool = True
) -> Tuple[List[TemplateRef], Counter]:
    """All templates that can be sampled, and why the others were skipped."""
    templates: List[TemplateRef] = []
    skipped: Counter = Counter()
    for lang in languages:
        intents = _language_intents(lang)
        lists = _slot_lists(lang, value_lists)
        for intent_name, intent in sorted(intents.intents.items()):
            for block_index, block in enumerate(intent.data):
                rules = {**intents.expansion_rules, **block.expansion_rules}
                local_lists = {**lists, **block.slot_lists}
                for index, sentence in enumerate(block.sentences):
                    names = set(sentence.list_names(rules))
                    wildcards = sorted(
                        n
                        for n in names
                        if n in block.wildcard_list_names or isinstance(local_lists.get(n), WildcardSlotList)
                    )
                    missing = sorted(n for n in names if n not in local_lists)
                    if wildcards and skip_wildcards:
                        skipped[f"wildcard list {{{wildcards[0]}}}"] += 1
                    elif missing:
                        skipped[f"no values for list {{{missing[0]}}} ({lang})"] += 1
                    else:
                        templates.append(TemplateRef(lang, intent_name, block_index, index, sentence.text or ""))
    return templates, skipped


class _Sampler:
    def __init__(self, rng: random.Random, rules, lists, wildcards):
        self.rng = rng
        self.rules = rules
        self.lists = lists
        self.wildcards = wildcards
        # (text, slot occurrence id or None); occurrence ids keep adjacent same-name slots apart.
        self.pieces: List[Tuple[str, Optional[int]]] = []
        self.slot_names: List[str] = []

    def walk(self, expr: Expression, slot: Optional[int], depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            raise SkipTemplate("expansion rules nest too deeply")
        if isinstance(expr, TextChunk):
            self.pieces.append((expr.original_text, slot))
        elif isinstance(expr, Alternative):
            self.walk(self.rng.choice(expr.items), slot, depth + 1)
        elif isinstance(expr, Permutation):
            items = list(expr.items)
            self.rng.shuffle(items)
            for item in items:
                self.pieces.append((" ", slot))
                self.walk(item, slot, depth + 1)
            self.pieces.append((" ", slot))
        elif isinstance(expr, Group):
            for item in expr.items:
                self.walk(item, slot, depth + 1)
        elif isinstance(expr, RuleReference):
            if expr.rule_name not in self.rules:
                raise SkipTemplate(f"missing expansion rule <{expr.rule_name}>")
            self.walk(self.rules[expr.rule_name].expression, slot, depth + 1)
        elif isinstance(expr, ListReference):
            self._list(expr, slot, depth)
        else:
            raise SkipTemplate(f"unexpected expression {type(expr).__name__}")

    def _list(self, ref: ListReference, slot: Optional[int], depth: int) -> None:
        slot_list = self.lists.get(ref.list_name)
        if slot_list is None or ref.list_name in self.wildcards or isinstance(slot_list, WildcardSlotList):
            raise SkipTemplate(f"list {{{ref.list_name}}} has no values")
        if slot is None:  # the outermost list reference names the slot
            self.slot_names.append(ref.slot_name)
            slot = len(self.slot_names) - 1
        if isinstance(slot_list, TextSlotList):
            if not slot_list.values:
                raise SkipTemplate(f"list {{{ref.list_name}}} is empty")
            self.walk(self.rng.choice(slot_list.values).text_in, slot, depth + 1)
        elif isinstance(slot_list, RangeSlotList):
            number: float = self.rng.randrange(slot_list.start, slot_list.stop + 1, slot_list.step)
            if slot_list.fraction_type is not None and self.rng.random() < 0.25:
                number += 0.5
            self.pieces.append((str(number), slot))
        else:
            raise SkipTemplate(f"list {{{ref.list_name}}} of type {type(slot_list).__name__}")

    def utterance(self) -> Utterance:
        """Concatenate pieces, collapse whitespace, and map slot spans onto the result."""
        text_parts: List[str] = []
        owner: List[Optional[int]] = []
        for piece, slot in self.pieces:
            text_parts.append(piece)
            owner.extend([slot] * len(piece))
        raw = "".join(text_parts)
        out_chars: List[str] = []
        out_owner: List[Optional[int]] = []
        for m in re.finditer(r"\S+|\s+", raw):
            if m.group().isspace():
                if out_chars and out_chars[-1] != " ":
                    out_chars.append(" ")
                    out_owner.append(None)
            else:
                out_chars.extend(m.group())
                out_owner.extend(owner[m.start() : m.end()])
        while out_chars and out_chars[-1] == " ":
            out_chars.pop()
            out_owner.pop()
        text = "".join(out_chars)
        spans: List[Tuple[int, int, str]] = []
        i = 0
        while i < len(out_owner):
            slot = out_owner[i]
            if slot is None:
                i += 1
                continue
            j = i
            # A slot's span runs through internal spaces up to its last character.
            last = i
            while j < len(out_owner) and (out_owner[j] == slot or (out_owner[j] is None and text[j] == " ")):
                if out_owner[j] == slot:
                    last = j
                j += 1
            spans.append((i, last + 1, self.slot_names[slot]))
            i = last + 1
        return Utterance(text, spans)


def template_seed(seed: int, ref: TemplateRef) -> int:
    key = f"{seed}|{ref.lang}|{ref.intent}|{ref.block}|{ref.index}|{ref.template}".encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def samples_per_template(
    templates: List[TemplateRef], base: int, train_rows_per_language: int, is_train: Callable[[TemplateRef], bool]
) -> Dict[TemplateRef, int]:
    """Samples to draw from each template: `base`, and for a training template of a language
    with n training templates, max(base, ceil(train_rows_per_language / n)), so a language
    with few templates still gets about `train_rows_per_language` training rows (fewer where
    its templates have fewer distinct expansions). Eval and test templates keep `base`."""
    train_templates = Counter(ref.lang for ref in templates if is_train(ref))
    counts = {}
    for ref in templates:
        n = base
        if train_rows_per_language and is_train(ref):
            n = max(base, -(-train_rows_per_language // train_templates[ref.lang]))
        counts[ref] = n
    return counts


def sample_template(
    ref: TemplateRef, samples: int, seed: int, value_lists: Dict[str, Dict[str, List[str]]]
) -> List[Utterance]:
    """Up to `samples` distinct utterances of one template; deterministic for (seed, template)."""
    intents = _language_intents(ref.lang)
    block = intents.intents[ref.intent].data[ref.block]
    sentence = block.sentences[ref.index]
    rules = {**intents.expansion_rules, **block.expansion_rules}
    lists = {**_slot_lists(ref.lang, value_lists), **block.slot_lists}
    rng = random.Random(template_seed(seed, ref))
    seen: Dict[str, Utterance] = {}
    # Small templates have fewer distinct expansions than asked for; stop after a few misses.
    for _ in range(samples * 4):
        sampler = _Sampler(rng, rules, lists, block.wildcard_list_names)
        sampler.walk(sentence.expression, None)
        utterance = sampler.utterance()
        if utterance.text and utterance.text not in seen:
            seen[utterance.text] = utterance
            if len(seen) == samples:
                break
    return list(seen.values())
