"""Parsers for the bring-your-own formats: one input line -> one `LabelledRow` (or a `RowError`).

- jsonl: {"text", "intent", optional "lang", "group_id", "id", and either
  "tokens" + "slot_tags" (BIO) or "slots": [{"start", "end", "slot"}] character spans}.
- mtop: the MTOP release TSV: id, intent, slots ("start:end:SL:NAME,..."), utterance,
  domain, locale, decoupled form[, tokens JSON]. Intent and slot prefixes IN:/SL: are dropped.
- multiatis: the MultiATIS++ TSV with header "id, utterance, slot_labels, intent";
  utterance and labels are space-separated; the language comes from the file name
  (train_DE.tsv -> de) or data.default_lang.
"""

from __future__ import annotations

import json
import os
import re
from typing import Callable, Dict, Optional

from beam_jobs.dataset.rows import RowError, make_row, spans_from_bio
from schemas.features import LabelledRow

_ATIS_LANG = re.compile(r"_([A-Za-z]{2})\.tsv$")


def decode_line(raw: bytes, max_line_bytes: int) -> str:
    if len(raw) > max_line_bytes:
        raise RowError("line_too_long", f"line has {len(raw)} bytes, more than data.max_line_bytes={max_line_bytes}")
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise RowError("not_utf8", f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def parse_jsonl(line: str, location: str, default_lang: str, max_tokens: int) -> LabelledRow:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RowError("malformed_json", f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise RowError("malformed_json", f"expected a JSON object, got {type(obj).__name__}")
    text, spans = obj.get("text"), []
    if "tokens" in obj or "slot_tags" in obj:
        tokens, tags = obj.get("tokens"), obj.get("slot_tags")
        if not isinstance(tokens, list) or not isinstance(tags, list):
            raise RowError("tag_count_mismatch", "'tokens' and 'slot_tags' must both be lists")
        joined, spans = spans_from_bio([str(t) for t in tokens], [str(t) for t in tags])
        if text is None:
            text = joined
        elif not isinstance(text, str) or text.split() != joined.split():
            # Spans are on the joined tokens; accept a text only if it is those tokens.
            raise RowError("text_token_mismatch", "'text' does not equal the space-joined 'tokens'")
        else:
            text = joined
    else:
        for i, slot in enumerate(obj.get("slots") or []):
            try:
                spans.append((slot["start"], slot["end"], slot["slot"]))
            except (KeyError, TypeError):
                raise RowError("bad_slot", f"slots[{i}] needs 'start', 'end' and 'slot'") from None
    return make_row(
        text=text,
        intent=obj.get("intent"),
        lang=str(obj.get("lang") or default_lang),
        source="jsonl",
        spans=spans,
        group_id=obj.get("group_id"),
        row_id=str(obj["id"]) if obj.get("id") is not None else f"jsonl:{location}",
        max_tokens=max_tokens,
    )


def _strip(label: str, prefix: str) -> str:
    return label[len(prefix) :] if label.startswith(prefix) else label


def parse_mtop(line: str, location: str, default_lang: str, max_tokens: int) -> LabelledRow:
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
    lang = locale.split("_")[0].lower() if locale else default_lang
    return make_row(
        text=utterance,
        intent=_strip(intent, "IN:"),
        lang=lang,
        source="mtop",
        spans=spans,
        row_id=f"mtop:{row_id}" if row_id else f"mtop:{location}",
        max_tokens=max_tokens,
    )


def parse_multiatis(line: str, location: str, default_lang: str, max_tokens: int) -> Optional[LabelledRow]:
    cols = line.split("\t")
    if cols[:4] == ["id", "utterance", "slot_labels", "intent"]:
        return None  # header
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
    )


PARSERS: Dict[str, Callable[[str, str, str, int], Optional[LabelledRow]]] = {
    "jsonl": parse_jsonl,
    "mtop": parse_mtop,
    "multiatis": parse_multiatis,
}
