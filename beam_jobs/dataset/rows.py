"""One labelled utterance -> one dataset row (word tokens + BIO tags), or a reason why not.

Every source (the Home Assistant sampler and the bring-your-own readers) ends here, so all
rows obey the same rules: the project's tokenisation, slot spans on token boundaries, and a
bounded number of tokens.
"""

from __future__ import annotations

import hashlib
import re
from typing import List, Optional, Sequence, Tuple

from schemas.features import OUTSIDE_TAG, LabelledRow, bio_spans
from tokenization import tokenize

_TAG = re.compile(r"^(O|[BI]-\S+)$")


class RowError(ValueError):
    """A row that cannot become an example; `code` groups reasons in the summary."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(detail)


def stable_hash(*parts: str, length: int = 16) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def spans_from_bio(tokens: Sequence[str], tags: Sequence[str]) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Join pre-tokenised words with spaces and turn their BIO tags into character spans."""
    if len(tokens) != len(tags):
        raise RowError("tag_count_mismatch", f"{len(tags)} slot tags for {len(tokens)} tokens")
    offsets, pos = [], 0
    for token in tokens:
        if not token or any(ch.isspace() for ch in token):
            raise RowError("bad_token", f"token {token!r} is empty or contains whitespace")
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    for i, tag in enumerate(tags):
        if not _TAG.match(tag):
            raise RowError("bad_tag", f"slot tag {tag!r} at token {i} is not O, B-<slot> or I-<slot>")
    spans = [(offsets[start][0], offsets[end - 1][1], name) for start, end, name in bio_spans(tags)]
    return " ".join(tokens), spans


def make_row(
    *,
    text: str,
    intent: str,
    lang: str,
    source: str,
    spans: Sequence[Tuple[int, int, str]] = (),
    group_id: Optional[str] = None,
    row_id: Optional[str] = None,
    max_tokens: int = 64,
) -> LabelledRow:
    """Validate one utterance and tag its words with BIO slot tags."""
    if not isinstance(text, str) or not text.strip():
        raise RowError("empty_text", "text is empty")
    if not isinstance(intent, str) or not intent.strip():
        raise RowError("missing_intent", "intent is empty or missing")
    if not lang:
        raise RowError("missing_lang", "language is empty")
    tokens = tokenize(text)
    if len(tokens) > max_tokens:
        raise RowError("too_many_tokens", f"{len(tokens)} tokens exceed data.max_tokens={max_tokens}")
    tags = [OUTSIDE_TAG] * len(tokens)
    last_end = -1
    for start, end, name in sorted(spans):
        if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start < end <= len(text):
            raise RowError(
                "span_outside_text", f"slot span [{start}, {end}) for {name!r} is outside the text (length {len(text)})"
            )
        if not name or any(ch.isspace() for ch in str(name)):
            raise RowError("bad_slot_name", f"slot name {name!r} is empty or contains whitespace")
        if start < last_end:
            raise RowError("overlapping_spans", f"slot span [{start}, {end}) for {name!r} overlaps the previous span")
        last_end = end
        covered = [i for i, t in enumerate(tokens) if t.start < end and t.end > start]
        if not covered or tokens[covered[0]].start != start or tokens[covered[-1]].end != end:
            raise RowError(
                "span_splits_token",
                f"slot span [{start}, {end}) {text[start:end]!r} for {name!r} "
                "does not start and end on word boundaries",
            )
        tags[covered[0]] = f"B-{name}"
        for i in covered[1:]:
            tags[i] = f"I-{name}"
    intent = intent.strip()
    return LabelledRow(
        id=row_id or f"{source}:{lang}:{stable_hash(text, intent)}",
        lang=lang,
        text=text,
        tokens=[t.text for t in tokens],
        intent=intent,
        slot_tags=tags,
        # Default group = the text itself, so duplicates of one text never straddle splits.
        group_id=group_id or f"{source}:{lang}:{stable_hash(text.lower())}",
        source=source,
    )


def snap_spans_to_tokens(text: str, spans: Sequence[Tuple[int, int, str]]) -> List[Tuple[int, int, str]]:
    """Widen spans to whole words. Only for generated text, where a template glues a suffix to
    a list value (German "des {area}s" -> "des Flurs", "{temperature}k" -> "4800k"): the
    inflected word is the slot's surface form. User data is never widened."""
    tokens = tokenize(text)
    snapped = []
    for start, end, name in spans:
        covered = [t for t in tokens if t.start < end and t.end > start]
        snapped.append((covered[0].start, covered[-1].end, name) if covered else (start, end, name))
    return snapped


def assign_split(group_id: str, train: float, eval_fraction: float) -> str:
    """Deterministic split of a group id: the same group always lands in the same split."""
    bucket = int(hashlib.sha256(group_id.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000
    if bucket < train:
        return "train"
    if bucket < train + eval_fraction:
        return "eval"
    return "test"
