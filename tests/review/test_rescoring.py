"""review.rescoring's error kinds: how a slot span, and a row, is got wrong."""

from review.rescoring import row_error, span_errors

GOLD = ["O", "B-artist", "I-artist", "O", "B-app"]  # play [snoop dogg] on [spotify]


def test_exact_spans_are_no_error():
    assert span_errors(GOLD, GOLD) == {"boundary": 0, "wrong slot": 0, "missed": 0, "spurious": 0}


def test_a_span_of_its_slot_with_other_ends_is_a_boundary_error():
    # "dogg" alone, and "snoop" + "dogg" cut in two: each gold span counts once.
    assert span_errors(GOLD, ["O", "O", "B-artist", "O", "B-app"])["boundary"] == 1
    assert span_errors(GOLD, ["O", "B-artist", "B-artist", "O", "B-app"]) == {
        "boundary": 1,
        "wrong slot": 0,
        "missed": 0,
        "spurious": 0,
    }


def test_other_slots_only_is_wrong_slot_nothing_is_missed_and_a_lone_prediction_is_spurious():
    assert span_errors(GOLD, ["O", "O", "B-album", "O", "O"]) == {
        "boundary": 0,
        "wrong slot": 1,
        "missed": 1,
        "spurious": 0,
    }
    assert span_errors(GOLD, ["B-album", "B-artist", "I-artist", "B-date", "B-app"]) == {
        "boundary": 0,
        "wrong slot": 0,
        "missed": 0,
        "spurious": 2,
    }


def test_row_error_says_what_exact_match_lost_on():
    assert row_error(("play", GOLD), ("play", GOLD)) is None
    assert row_error(("play", GOLD), ("stop", GOLD)) == "intent"
    assert row_error(("play", GOLD), ("play", ["O"] * 5)) == "slots"
    assert row_error(("play", GOLD), ("stop", ["O"] * 5)) == "intent and slots"
