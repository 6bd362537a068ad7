import pytest

from beam_jobs.dataset.rows import RowError, assign_split, make_row, snap_spans_to_tokens, spans_from_bio


def row(text, spans=(), **kw):
    return make_row(
        text=text, intent=kw.pop("intent", "x"), lang=kw.pop("lang", "en"), source="test", spans=spans, **kw
    )


def test_multi_word_slot_gets_b_then_i():
    r = row("play jazz in the living room", [(17, 28, "room"), (5, 9, "genre")])
    assert r.tokens == ["play", "jazz", "in", "the", "living", "room"]
    assert r.slot_tags == ["O", "B-genre", "O", "O", "B-room", "I-room"]


def test_no_space_language_slot_covers_its_characters():
    text = "เปิดไฟห้องนอน"  # "turn on the light in the bedroom"; bedroom = ห้องนอน
    r = row(text, [(6, 13, "room")], lang="th")
    assert "".join(r.tokens) == text
    tagged = [t for t, tag in zip(r.tokens, r.slot_tags) if tag != "O"]
    assert "".join(tagged) == "ห้องนอน"
    assert r.slot_tags[len(r.tokens) - len(tagged)] == "B-room"
    assert set(r.slot_tags[len(r.tokens) - len(tagged) + 1 :]) == {"I-room"}


def test_adjacent_slots_of_the_same_name_stay_apart():
    r = row("kitchen bedroom", [(0, 7, "room"), (8, 15, "room")])
    assert r.slot_tags == ["B-room", "B-room"]


@pytest.mark.parametrize(
    "text, spans, code",
    [
        ("", (), "empty_text"),
        ("turn on", [(3, 99, "s")], "span_outside_text"),
        ("turn on", [(1, 4, "s")], "span_splits_token"),
        ("turn on the", [(0, 7, "a"), (5, 11, "b")], "overlapping_spans"),
        ("a " * 70, (), "too_many_tokens"),
    ],
)
def test_bad_rows_raise_with_a_code(text, spans, code):
    with pytest.raises(RowError) as err:
        row(text, spans)
    assert err.value.code == code


def test_bio_round_trip_and_tag_count_mismatch():
    text, spans = spans_from_bio(["new", "york", "to", "la"], ["B-city", "I-city", "O", "B-city"])
    assert text == "new york to la"
    assert spans == [(0, 8, "city"), (12, 14, "city")]
    assert row(text, spans).slot_tags == ["B-city", "I-city", "O", "B-city"]
    with pytest.raises(RowError) as err:
        spans_from_bio(["a", "b"], ["O"])
    assert err.value.code == "tag_count_mismatch"


def test_snap_widens_glued_suffixes_to_the_word():
    assert snap_spans_to_tokens("stoppe die Timer des Flurs", [(21, 25, "area")]) == [(21, 26, "area")]


def test_split_is_a_deterministic_function_of_the_group():
    assert {assign_split("g1", 0.8, 0.1) for _ in range(5)} == {assign_split("g1", 0.8, 0.1)}
    counts = {"train": 0, "eval": 0, "test": 0}
    for i in range(2000):
        counts[assign_split(f"group-{i}", 0.8, 0.1)] += 1
    assert 1500 < counts["train"] < 1700 and 120 < counts["eval"] < 280 and 120 < counts["test"] < 280
