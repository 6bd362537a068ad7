"""One labelled utterance -> one dataset row (word tokens + BIO tags), or a reason why not.

Every source (the Home Assistant sampler and the bring-your-own readers) ends here, so all
rows obey the same rules: field types, printable labels, the project's tokenisation, slot
spans on token boundaries, a bounded number of tokens and (for user data) the selected
languages. The first rule a row breaks is its reason code (README, "Bring your own data").
Unlabelled utterances (`data.unlabeled`) obey the same rules but those of labels and spans.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Dict, List, Optional, Sequence, Tuple

from schemas.features import GROUP_ID, ID, LANG, OUTSIDE_TAG, SOURCE, TEXT, TOKENS, LabelledRow, bio_spans
from tokenization import Token, tokenize

_TAG = re.compile(r"^(O|[BI]-\S+)$")
# A language tag such as en, de, zh-CN, pt_BR: no spaces, controls or punctuation.
_LANG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,34}$")
# Unicode categories no label may hold: controls (newline, tab, NUL...), invisible format
# characters (BOM, zero-width space), lone surrogates, private use, line/paragraph separators.
# Labels become vocabulary files (one per line) and must read back as the same string.
_NOT_IN_LABELS = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
_JSON_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
               dict: "an object", type(None): "null"}  # fmt: skip


# Rows the user left out (data.languages), not bad rows: dead-lettered, but not in the ratio.
NOT_SELECTED = "language_not_selected"


class RowError(ValueError):
    """A row that cannot become an example; `code` groups reasons in the summary."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(detail)


def stable_hash(*parts: str, length: int = 16) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def json_type(value: Any) -> str:
    """How a JSON reader names the type of `value` ("a string", "an array", ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def expect_type(field: str, value: Any, kind: type) -> Any:
    """`value` when it is of `kind` (an int field takes no bool), else a `bad_field_type` RowError."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RowError("bad_field_type", f"{field} must be {_JSON_TYPES[kind]}, got {json_type(value)} {value!r:.60}")
    return value


def check_string(field: str, value: str, label: bool) -> None:
    """Reject lone surrogates (they cannot be written as UTF-8) and control characters: any in a
    label (intent, slot name, language, ids), non-whitespace ones in text (tokens split there)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowError("bad_unicode", f"{field} has a lone surrogate {value[exc.start]!r} at {exc.start}") from None
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in _NOT_IN_LABELS and (label or (category == "Cc" and not ch.isspace())):
            raise RowError("control_character", f"{field} has the control character {ch!r} at {i}: {value!r:.80}")


def spans_from_bio(tokens: Sequence[str], tags: Sequence[str]) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Join pre-tokenised words with spaces and turn their BIO tags into character spans."""
    for field, values in (("tokens", tokens), ("slot_tags", tags)):
        for i, value in enumerate(values):
            expect_type(f"{field}[{i}]", value, str)
            check_string(f"{field}[{i}]", value, label=field == "slot_tags")
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


def _check_fields(
    text: Any,
    intent: Any,
    lang: Any,
    ids: Sequence[Tuple[str, Any]],
    spans: Sequence[Tuple[Any, Any, Any]],
    labelled: bool = True,
) -> None:
    """Types first (so the reason says what a field got, not that it is missing), then the
    characters of every string, then the shape of the language tag. `labelled`: the row must
    have an intent."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise RowError("empty_text", "text is empty")
    expect_type("text", text, str)
    if labelled:
        if intent is None or (isinstance(intent, str) and not intent.strip()):
            raise RowError("missing_intent", "intent is empty or missing")
        expect_type("intent", intent, str)
    if lang is None or lang == "":
        raise RowError("missing_lang", "language is empty")
    expect_type("lang", lang, str)
    for field, value in ids:
        if value is not None:
            expect_type(field, value, str)
    for i, span in enumerate(spans):
        for field, value, kind in zip(("start", "end", "slot"), span, (int, int, str)):
            expect_type(f"slot span {i} {field}", value, kind)
    check_string("text", text, label=False)
    if labelled:
        check_string("intent", intent, label=True)
    check_string("lang", lang, label=True)
    for field, value in ids:
        if value is not None:
            check_string(field, value, label=True)
    for i, (_, _, name) in enumerate(spans):
        check_string(f"slot span {i} slot", name, label=True)
    if not _LANG.fullmatch(lang):
        raise RowError("bad_lang", f"language {lang!r} is not a language tag (letters, digits, - or _)")


def _selected_tokens(text: str, lang: str, max_tokens: int, languages: Sequence[str]) -> List[Token]:
    """The words of a row in a selected language (any, when `languages` is empty), at most `max_tokens`."""
    if languages and lang not in languages:
        raise RowError(NOT_SELECTED, f"language {lang!r} is not in data.languages ({', '.join(languages)})")
    tokens = tokenize(text)
    if len(tokens) > max_tokens:
        raise RowError("too_many_tokens", f"{len(tokens)} tokens exceed data.max_tokens={max_tokens}")
    return tokens


def check_text(text: Any, lang: Any, max_tokens: int = 64, languages: Sequence[str] = ()) -> List[Token]:
    """The rules of every row (`make_row`, `make_unlabeled_row`) that concern its text and
    language alone, for text a job makes rather than reads (augmentation): not empty, a string
    without lone surrogates or control characters, a language tag in `languages` (any, when
    empty), at most `max_tokens` words -> its tokens. Raises `RowError` naming the first rule broken."""
    _check_fields(text, None, lang, (), (), labelled=False)
    return _selected_tokens(text, lang, max_tokens, languages)


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
    languages: Sequence[str] = (),
) -> LabelledRow:
    """Validate one utterance and tag its words with BIO slot tags. `languages`: when given,
    a row of another language is refused (`language_not_selected`)."""
    _check_fields(text, intent, lang, (("id", row_id), ("group_id", group_id)), spans)
    tokens = _selected_tokens(text, lang, max_tokens, languages)
    tags = [OUTSIDE_TAG] * len(tokens)
    last_end = -1
    for start, end, name in sorted(spans):
        if not 0 <= start < end <= len(text):
            raise RowError(
                "span_outside_text", f"slot span [{start}, {end}) for {name!r} is outside the text (length {len(text)})"
            )
        if not name or any(ch.isspace() for ch in name):
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
        # A blank id or group id is no id: the defaults below.
        id=row_id if row_id and row_id.strip() else f"{source}:{lang}:{stable_hash(text, intent)}",
        lang=lang,
        text=text,
        tokens=[t.text for t in tokens],
        intent=intent,
        slot_tags=tags,
        # Default group = the text itself, so duplicates of one text never straddle splits.
        group_id=group_id if group_id and group_id.strip() else f"{source}:{lang}:{stable_hash(text.lower())}",
        source=source,
    )


def make_unlabeled_row(
    *,
    text: Any,
    lang: Any,
    source: str,
    location: str,
    row_id: Optional[str] = None,
    max_tokens: int = 64,
    languages: Sequence[str] = (),
) -> Dict[str, Any]:
    """Validate one utterance without labels by the rules of `make_row` that concern text,
    language and id -> its features (no intent, no slot tags). The id defaults to
    `<source>:<location>` (file:line); the group id is the language and the text's hash."""
    _check_fields(text, None, lang, (("id", row_id),), (), labelled=False)
    tokens = _selected_tokens(text, lang, max_tokens, languages)
    return {
        ID: row_id if row_id and row_id.strip() else f"{source}:{location}",
        LANG: lang,
        TEXT: text,
        TOKENS: [t.text for t in tokens],
        GROUP_ID: f"{source}:{lang}:{stable_hash(text)}",
        SOURCE: source,
    }


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
