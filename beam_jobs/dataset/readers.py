"""Parsers for the bring-your-own formats: one input line -> one `LabelledRow` (or a `RowError`).

- jsonl: {"text", "intent", optional "lang", "group_id", "id", and either
  "tokens" + "slot_tags" (BIO) or "slots": [{"start", "end", "slot"}] character spans}.
- mtop: the MTOP release TSV: id, intent, slots ("start:end:SL:NAME,..."), utterance,
  domain, locale, decoupled form[, tokens JSON]. Intent and slot prefixes IN:/SL: are dropped.
- multiatis: the MultiATIS++ TSV with header "id, utterance, slot_labels, intent";
  utterance and labels are space-separated; the language comes from the file name
  (train_DE.tsv) or data.default_lang.

`read_line` is what the dataset job calls per line: whatever a line holds, the result is a
row, None (blank or header line) or a `RowError` with a reason code. `read_unlabeled_line` is
the same for the unlabelled inputs of `data.unlabeled` (JSONL {"text", "lang"?, "id"?} or
plain text), which the Augment job reads. Both jobs read files with `numbered_lines` after
`check_files`.
"""

from __future__ import annotations

import glob
import json
import os
import re
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

from beam_jobs.config import DataConfig
from beam_jobs.dataset.rows import RowError, expect_type, make_row, make_unlabeled_row, spans_from_bio
from beam_jobs.outputs import UsageError
from schemas.features import LabelledRow

_ATIS_LANG = re.compile(r"_([A-Za-z]{2})\.tsv$")
_ATIS_HEADER = ["id", "utterance", "slot_labels", "intent"]
BOM = "\ufeff"
# Suffixes of the files Beam decompresses when it reads them (traffic.jsonl.gz is JSONL).
_COMPRESSED = re.compile(r"\.(gz|bz2|deflate|zst|zstd|lzma|xz)$")
UNLABELED = "unlabeled"  # the source of rows from data.unlabeled


def check_files(paths: Iterable[Tuple[str, str]]) -> None:
    """Refuse (config key, glob) inputs that cannot be read as files before Beam starts: a
    `UsageError` (exit 2) naming the key, instead of a worker's traceback."""
    for key, pattern in paths:
        if "://" in pattern:
            continue  # object stores hold no folders; they are matched when the job reads them
        found = sorted(glob.glob(pattern))
        if not found:
            raise UsageError(f"{key}: no file matches {pattern!r}")
        folders = [path for path in found if os.path.isdir(path)]
        if folders:
            raise UsageError(
                f"{key}: {folders[0]!r} is a folder, not a file; give the files in it (e.g. '{folders[0]}/*')"
            )


def numbered_lines(readable_file) -> Iterator[Tuple[str, bytes]]:
    """(`path:line`, bytes) of each line of a `fileio.ReadableFile`."""
    # A file name that is not UTF-8 (surrogate escapes) must not make every row's id unwritable.
    path = readable_file.metadata.path.encode("utf-8", "backslashreplace").decode("utf-8")
    with readable_file.open() as f:
        for number, raw in enumerate(f, start=1):
            yield f"{path}:{number}", raw


def decode_line(raw: bytes, max_line_bytes: int) -> str:
    """UTF-8 text of a line without its line break and without a leading byte order mark
    (editors put one at the start of a file; files concatenated keep it mid-file)."""
    if len(raw) > max_line_bytes:
        raise RowError("line_too_long", f"line has {len(raw)} bytes, more than data.max_line_bytes={max_line_bytes}")
    try:
        return raw.decode("utf-8").rstrip("\r\n").removeprefix(BOM)
    except UnicodeDecodeError as exc:
        raise RowError("not_utf8", f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def _identifier(obj: Dict[str, Any], field: str) -> Optional[str]:
    """An id or group id: a string, or an integer (as JSON exports of databases write them)."""
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return expect_type(field, value, str)


def _json_object(line: str) -> Dict[str, Any]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:  # also integers too long to convert, nesting too deep
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else f"{exc}"[:120]
        raise RowError("malformed_json", f"invalid JSON: {detail}") from None
    if not isinstance(obj, dict):
        raise RowError("malformed_json", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def parse_jsonl(
    line: str, location: str, default_lang: str, max_tokens: int, languages: Sequence[str] = ()
) -> LabelledRow:
    obj = _json_object(line)
    text, spans = obj.get("text"), []
    if "tokens" in obj or "slot_tags" in obj:
        tokens = expect_type("tokens", obj.get("tokens"), list)
        joined, spans = spans_from_bio(tokens, expect_type("slot_tags", obj.get("slot_tags"), list))
        # Spans are on the joined tokens; accept a text only if it is those tokens.
        if text is not None and expect_type("text", text, str).split() != joined.split():
            raise RowError("text_token_mismatch", "'text' does not equal the space-joined 'tokens'")
        text = joined
    elif obj.get("slots") is not None:
        for i, slot in enumerate(expect_type("slots", obj["slots"], list)):
            expect_type(f"slots[{i}]", slot, dict)
            if not {"start", "end", "slot"} <= slot.keys():
                raise RowError("bad_slot", f"slots[{i}] needs 'start', 'end' and 'slot'")
            spans.append((slot["start"], slot["end"], slot["slot"]))
    lang = obj.get("lang")
    return make_row(
        text=text,
        intent=obj.get("intent"),
        lang=default_lang if lang is None or lang == "" else lang,
        source="jsonl",
        spans=spans,
        group_id=_identifier(obj, "group_id"),
        row_id=_identifier(obj, "id") or f"jsonl:{location}",
        max_tokens=max_tokens,
        languages=languages,
    )


def _strip(label: str, prefix: str) -> str:
    return label[len(prefix) :] if label.startswith(prefix) else label


def parse_mtop(
    line: str, location: str, default_lang: str, max_tokens: int, languages: Sequence[str] = ()
) -> LabelledRow:
    cols = line.split("\t")
    if len(cols) < 7:
        raise RowError("malformed_tsv", f"MTOP row has {len(cols)} columns, expected at least 7")
    row_id, intent, slot_string, utterance, _domain, locale = cols[:6]
    spans = []
    for item in filter(None, slot_string.split(",")):
        parts = item.split(":", 2)
        try:
            spans.append((int(parts[0]), int(parts[1]), _strip(parts[2], "SL:")))
        except (ValueError, IndexError):
            raise RowError("malformed_tsv", f"MTOP slot {item!r} is not start:end:SL:NAME") from None
    return make_row(
        text=utterance,
        intent=_strip(intent, "IN:"),
        lang=locale.split("_")[0].lower() if locale else default_lang,
        source="mtop",
        spans=spans,
        row_id=f"mtop:{row_id}" if row_id else f"mtop:{location}",
        max_tokens=max_tokens,
        languages=languages,
    )


def parse_multiatis(
    line: str, location: str, default_lang: str, max_tokens: int, languages: Sequence[str] = ()
) -> Optional[LabelledRow]:
    cols = line.split("\t")
    if cols == _ATIS_HEADER:
        return None
    if len(cols) != 4:
        raise RowError("malformed_tsv", f"MultiATIS++ row has {len(cols)} columns, expected 4")
    row_id, utterance, labels, intent = cols
    text, spans = spans_from_bio(utterance.split(), labels.split())
    match = _ATIS_LANG.search(location.rsplit(":", 1)[0])
    return make_row(
        text=text,
        intent=intent,
        lang=match.group(1).lower() if match else default_lang,
        source="multiatis",
        spans=spans,
        row_id=f"multiatis:{os.path.basename(location)}:{row_id}",
        max_tokens=max_tokens,
        languages=languages,
    )


PARSERS: Dict[str, Callable[..., Optional[LabelledRow]]] = {
    "jsonl": parse_jsonl,
    "mtop": parse_mtop,
    "multiatis": parse_multiatis,
}


def _parse_line(raw: bytes, max_line_bytes: int, parse: Callable[[str], Any]) -> Any:
    """`parse` of the decoded line, None for a blank one; raises only `RowError` (an unexpected
    exception becomes `row_error` with its message, so one odd row is a dead letter)."""
    if not raw.strip():
        return None
    try:
        line = decode_line(raw, max_line_bytes)
        return parse(line) if line.strip() else None
    except RowError:
        raise
    except Exception as exc:
        raise RowError("row_error", f"{type(exc).__name__}: {exc}"[:500]) from exc


def read_line(raw: bytes, location: str, data: DataConfig) -> Optional[LabelledRow]:
    """One line of a `data.source` file -> its row, or None for a blank or header line.

    Raises only `RowError`: an unexpected exception becomes `row_error` with its message, so
    one odd row is a dead letter, never a failed job. Rows of languages outside a non-empty
    `data.languages` are `language_not_selected`.
    """
    return _parse_line(
        raw,
        data.max_line_bytes,
        lambda line: PARSERS[data.source](line, location, data.default_lang, data.max_tokens, data.languages),
    )


def read_unlabeled_line(raw: bytes, location: str, lang: Optional[str], data: DataConfig) -> Optional[Dict[str, Any]]:
    """One line of a `data.unlabeled` file -> the features of its row (no labels), or None for a
    blank line. A `*.jsonl` line is {"text", "lang"?, "id"?}, any other file's line the utterance.
    The language is the row's, else `lang` (the entry's), else `data.default_lang`.

    Raises only `RowError`, as `read_line` does (rows outside a non-empty `data.languages` are
    `language_not_selected`).
    """

    def parse(line: str) -> Dict[str, Any]:
        if _COMPRESSED.sub("", location.rsplit(":", 1)[0]).endswith(".jsonl"):
            obj = _json_object(line)
            text, row_lang, row_id = obj.get("text"), obj.get("lang"), _identifier(obj, "id")
        else:
            text, row_lang, row_id = line.strip(), None, None
        return make_unlabeled_row(
            text=text,
            lang=(lang or data.default_lang) if row_lang is None or row_lang == "" else row_lang,
            source=UNLABELED,
            location=location,
            row_id=row_id,
            max_tokens=data.max_tokens,
            languages=data.languages,
        )

    return _parse_line(raw, data.max_line_bytes, parse)
