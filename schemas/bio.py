"""BIO-constrained decoding: the best-scoring tag sequence in which every I-X continues a B-X
or an I-X (what `features.bio_spans` reads as one span). Per-word argmax can produce "O I-X" or
"B-X I-Y"; on real data (MTOP) decoding under the rule raised the teacher's exact match by 1.7
points. The TF graph of the student applies the same `allowed_transitions`."""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence, Tuple

import numpy as np

from schemas.features import OUTSIDE_TAG


@lru_cache(maxsize=8)
def _transitions(tags: Tuple[str, ...]) -> Tuple[np.ndarray, np.ndarray]:
    inside = [tag.startswith("I-") for tag in tags]
    slot = [tag[2:] if tag != OUTSIDE_TAG else None for tag in tags]
    allowed = np.ones((len(tags), len(tags)), dtype=bool)
    for cur, is_inside in enumerate(inside):
        if is_inside:
            allowed[:, cur] = [slot[prev] == slot[cur] for prev in range(len(tags))]
    return allowed, ~np.asarray(inside, dtype=bool)


def allowed_transitions(tags: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(allowed[previous tag, tag], allowed as the first tag), both boolean, for a tag
    vocabulary of "O", "B-<slot>" and "I-<slot>"."""
    return _transitions(tuple(tags))


def decode(scores: np.ndarray, tags: Sequence[str]) -> List[int]:
    """Tag ids of the highest-scoring valid sequence for per-word `scores` [words, tags]
    (logits or log-probabilities: the rule only forbids, so both give the same answer)."""
    scores = np.asarray(scores, dtype=np.float64)
    best = scores.argmax(-1)
    allowed, first = allowed_transitions(tags)
    if not len(best) or (first[best[0]] and allowed[best[:-1], best[1:]].all()):
        return best.tolist()  # the unconstrained best already obeys the rule
    forbid = np.where(allowed, 0.0, -np.inf)
    total = scores[0] + np.where(first, 0.0, -np.inf)
    back = []
    for word in range(1, len(scores)):
        candidates = total[:, None] + forbid
        back.append(candidates.argmax(0))
        total = candidates.max(0) + scores[word]
    path = [int(total.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]
