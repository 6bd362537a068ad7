"""The word tokenisation rule shared by the dataset, the teacher and the student.

Rule (identical in Python here and in TensorFlow ops in `tokenization.tf_ops`):
1. Every punctuation or symbol character (Unicode categories P* and S*) is a token by itself.
2. Every character of a script written without spaces (Thai, Lao, Khmer, Myanmar, CJK
   ideographs, Hiragana, Katakana, Hangul is *not* included: Korean uses spaces) is a
   token by itself, together with the combining marks (M*) that follow it, unless the text
   is word-segmented (`segmented`): there such characters form words like any others.
3. Everything else is split on whitespace: `str.isspace` characters and U+200B ZERO WIDTH
   SPACE, the invisible word boundary of Thai, Khmer and Myanmar text (MTOP's Thai has it).

A text is word-segmented when at least `MIN_SEGMENTED_GAPS` times two characters of such a
script have only separators between them, and no run of them (with their marks) is longer than
`MAX_SEGMENTED_WORD`: MTOP writes Thai one word at a time ("เปิด การ จับ เวลา"; 97 % of its
Thai utterances qualify), while Thai as usually written puts a space between phrases, if at all
("เซทอุณหภูมิใน ห้องอาหารไปที่44": none of the embedded corpus's Thai qualifies).

Slot spans are given in characters; a slot covers the tokens whose characters it overlaps,
and a span that starts or ends inside a token is rejected by the dataset job, so slot tags
always align with these tokens.
"""

from __future__ import annotations

import unicodedata
from typing import List, NamedTuple

# Code point ranges of scripts written without spaces between words.
NO_SPACE_RANGES = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x309F),  # Hiragana
    (0x30A0, 0x30FF),  # Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
)


# A word-segmented text: at least this many gaps between runs of a no-space script, and no run
# (characters and their marks) longer than this.
MIN_SEGMENTED_GAPS = 2
MAX_SEGMENTED_WORD = 12

# Word separators that `str.isspace` does not count as whitespace (Unicode category Cf).
ZERO_WIDTH_SEPARATORS = "\u200b"


def is_separator(ch: str) -> bool:
    """Whether `ch` separates words (rule 3)."""
    return ch.isspace() or ch in ZERO_WIDTH_SEPARATORS


class Token(NamedTuple):
    text: str
    start: int
    end: int


def _no_space(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in NO_SPACE_RANGES)


def _standalone(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def _mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def is_character_token(token: str) -> bool:
    """Whether `token` is one character of a script written without spaces with its marks: what
    rule 2 makes of text that is not word-segmented."""
    return bool(token) and _no_space(token[0]) and all(_mark(ch) for ch in token[1:])


def segmented(text: str) -> bool:
    """Whether `text` writes a script without spaces one word at a time (see the module's rule)."""
    run = 0  # characters of the current no-space run, marks included
    after_run = False  # only separators since a no-space run ended
    gaps = 0
    for ch in text:
        if _no_space(ch) or (run > 0 and _mark(ch)):
            gaps += run == 0 and after_run
            run += 1
            if run > MAX_SEGMENTED_WORD:
                return False
        elif is_separator(ch):
            after_run = after_run or run > 0
            run = 0
        else:
            run, after_run = 0, False
    return gaps >= MIN_SEGMENTED_GAPS


def tokenize(text: str) -> List[Token]:
    """Split `text` into word tokens with character offsets."""
    tokens: List[Token] = []
    i, n = 0, len(text)
    word_start = -1
    split_no_space = not segmented(text)

    def close_word(end: int) -> None:
        nonlocal word_start
        if word_start >= 0:
            tokens.append(Token(text[word_start:end], word_start, end))
            word_start = -1

    while i < n:
        ch = text[i]
        if is_separator(ch):
            close_word(i)
            i += 1
        elif _standalone(ch):
            close_word(i)
            tokens.append(Token(ch, i, i + 1))
            i += 1
        elif split_no_space and _no_space(ch):
            close_word(i)
            j = i + 1
            while j < n and _mark(text[j]):
                j += 1
            tokens.append(Token(text[i:j], i, j))
            i = j
        else:
            if word_start < 0:
                word_start = i
            i += 1
    close_word(n)
    return tokens


def written_with_spaces(text: str) -> bool:
    """True when no character of `text` is of a script written without spaces (rule 2)."""
    return not any(_no_space(ch) for ch in text)


def words(text: str) -> List[str]:
    return [t.text for t in tokenize(text)]
