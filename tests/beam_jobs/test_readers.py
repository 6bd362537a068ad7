import pytest

from beam_jobs.dataset.readers import decode_line, parse_jsonl, parse_mtop, parse_multiatis
from beam_jobs.dataset.rows import RowError
from tests.conftest import FIXTURES


def _lines(name):
    return [line for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_jsonl_reader_handles_spans_and_bio_tokens():
    rows = [parse_jsonl(line, f"sample.jsonl:{i}", "de", 64) for i, line in enumerate(_lines("sample.jsonl"), 1)]
    alarm, music, thai, german = rows
    assert alarm.slot_tags == ["O", "O", "O", "O", "B-time", "I-time"]
    assert music.text == "play some jazz in the living room"
    assert music.slot_tags == ["O", "O", "B-genre", "O", "O", "B-room", "I-room"]
    assert thai.lang == "th" and "".join(t for t, g in zip(thai.tokens, thai.slot_tags) if g != "O") == "ห้องนอน"
    assert german.lang == "de" and german.group_id == "g-de-1"
    assert german.slot_tags == ["O", "O", "B-room", "O"]


def test_mtop_reader():
    rows = [parse_mtop(line, f"mtop:{i}", "en", 64) for i, line in enumerate(_lines("mtop_sample.tsv"), 1)]
    assert [r.intent for r in rows] == ["GET_WEATHER", "SET_REMINDER", "CREATE_ALARM"]
    assert [r.lang for r in rows] == ["en", "de", "fr"]
    assert rows[0].slot_tags[-1] == "B-LOCATION"
    assert rows[2].slot_tags[-2:] == ["B-DATE_TIME", "I-DATE_TIME"]
    assert rows[0].id == "mtop:3232751001"


def test_multiatis_reader_takes_language_from_file_name_and_skips_header():
    path = FIXTURES / "multiatis_train_DE.tsv"
    lines = _lines("multiatis_train_DE.tsv")
    assert parse_multiatis(lines[0], f"{path}:1", "en", 64) is None
    row = parse_multiatis(lines[1], f"{path}:2", "en", 64)
    assert row.lang == "de" and row.intent == "atis_flight"
    assert row.slot_tags == ["O", "O", "B-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"]


@pytest.mark.parametrize(
    "raw, code",
    [
        (b"\xff\xfe not utf8", "not_utf8"),
        (b"x" * 101, "line_too_long"),
    ],
)
def test_decode_line_rejects(raw, code):
    with pytest.raises(RowError) as err:
        decode_line(raw, 100)
    assert err.value.code == code


def test_malformed_mtop_and_atis_rows():
    with pytest.raises(RowError, match="columns"):
        parse_mtop("only\ttwo", "x:1", "en", 64)
    with pytest.raises(RowError, match="start:end"):
        parse_mtop("1\tIN:A\tzz:SL:B\ttext\td\ten_XX\tdec", "x:1", "en", 64)
    with pytest.raises(RowError) as err:
        parse_multiatis("1\ta b\tO\tatis_x", "x_EN.tsv:2", "en", 64)
    assert err.value.code == "tag_count_mismatch"


# Thai is tokenised by character cluster; U+200B (MTOP's Thai has it) separates words and is no
# token. The slot "ห้องนอน" (bedroom) must come out as its 6 clusters tagged B, I, I, I, I, I.
THAI_CLUSTERS = ["เ", "ปิ", "ด", "ไ", "ฟ", "ห้", "อ", "ง", "น", "อ", "น"]


@pytest.mark.parametrize(
    "text, tokens, tags",
    [
        # "turn on the light" + "bedroom" as Thai is usually written: one token per character.
        ("เปิดไฟห้องนอน", THAI_CLUSTERS, ["O"] * 5 + ["B-room"] + ["I-room"] * 5),
        # Word-segmented (MTOP's Thai, here with a zero-width space): the words are the tokens.
        ("เปิด ไฟ\u200bห้องนอน", ["เปิด", "ไฟ", "ห้องนอน"], ["O", "O", "B-room"]),
    ],
)
def test_every_reader_gives_the_same_thai_tokens_and_aligned_slot_tags(text, tokens, tags):
    import json

    start = text.index("ห")
    jsonl = json.dumps(
        {"text": text, "intent": "on", "lang": "th", "slots": [{"start": start, "end": len(text), "slot": "room"}]},
        ensure_ascii=False,
    )
    mtop = f"1\tIN:on\t{start}:{len(text)}:SL:room\t{text}\tlights\tth_TH\t[IN:on ]\t{{}}"
    rows = [parse_jsonl(jsonl, "a.jsonl:1", "en", 64), parse_mtop(mtop, "mtop:1", "en", 64)]
    if len(tokens) == 3:  # multiATIS gives words with spaces between them: word-segmented
        rows.append(parse_multiatis("1\tเปิด ไฟ ห้องนอน\tO O B-room\ton", "train_TH.tsv:2", "en", 64))
    for row in rows:
        assert (row.tokens, row.slot_tags) == (tokens, tags), row.id
