"""schemas.bio.decode: the best valid BIO sequence, checked against brute force."""

import itertools

import numpy as np

from schemas.bio import allowed_transitions, decode
from schemas.features import bio_spans

TAGS = ["O", "B-a", "I-a", "B-b", "I-b"]


def _valid(path):
    allowed, first = allowed_transitions(TAGS)
    return bool(first[path[0]]) and all(allowed[p, c] for p, c in zip(path, path[1:]))


def test_the_rule_lets_an_inside_tag_follow_only_its_own_slot():
    allowed, first = allowed_transitions(TAGS)
    assert first.tolist() == [True, True, False, True, False]
    assert allowed[TAGS.index("B-a"), TAGS.index("I-a")] and allowed[TAGS.index("I-a"), TAGS.index("I-a")]
    assert not allowed[TAGS.index("O"), TAGS.index("I-a")] and not allowed[TAGS.index("B-b"), TAGS.index("I-a")]
    assert allowed[TAGS.index("I-b"), TAGS.index("B-a")] and allowed[TAGS.index("O"), TAGS.index("O")]


def test_a_valid_argmax_is_kept_and_an_invalid_one_becomes_the_best_valid_sequence():
    valid = np.log([[0.9, 0.1, 0, 0, 0], [0.1, 0.8, 0.1, 0, 0], [0.1, 0, 0.9, 0, 0]] + np.float64(1e-9))
    assert decode(valid, TAGS) == [0, 1, 2]
    # Argmax says "O I-a I-a": the best valid reading starts the span one word earlier or later.
    scores = np.log(np.array([[0.6, 0.4, 0, 0, 0], [0.3, 0.1, 0.6, 0, 0], [0.2, 0, 0.8, 0, 0]]) + 1e-9)
    assert decode(scores, TAGS) == [1, 2, 2]
    assert decode(np.zeros((0, 5)), TAGS) == []


def test_decode_equals_the_brute_force_best_over_every_valid_sequence():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.normal(size=(int(rng.integers(1, 5)), len(TAGS)))
        best = max(
            (p for p in itertools.product(range(len(TAGS)), repeat=len(scores)) if _valid(p)),
            key=lambda p: sum(scores[w, t] for w, t in enumerate(p)),
        )
        path = decode(scores, TAGS)
        assert _valid(path) and np.isclose(
            sum(scores[w, t] for w, t in enumerate(path)), sum(scores[w, t] for w, t in enumerate(best))
        )
        # A valid sequence means every span is one B- and its I-s: nothing for bio_spans to repair.
        tags = [TAGS[t] for t in path]
        assert all(tags[s].startswith("B-") for s, _, _ in bio_spans(tags))
