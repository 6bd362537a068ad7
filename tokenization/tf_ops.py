"""The word tokenisation rule of `tokenization` in stock TensorFlow ops (RE2 regexes).

`tokenize(texts)` maps a string tensor of shape [batch] to a `tf.RaggedTensor` of word
tokens [batch, (tokens)], equal to `tokenization.words(text)` for every text. It runs in
`tf.data`, in a SavedModel signature and under TFLite's SELECT_TF_OPS, with no custom op.

How the rule is expressed: two `regex_full_match`es say whether a text is word-segmented; one
`regex_replace` surrounds every token that stands alone with spaces (rule 1: a punctuation/symbol
character; rule 2, unless the text is word-segmented: a character of a script written without
spaces together with the combining marks that follow it); a second maps every whitespace
character to a space; `tf.strings.split` then splits on spaces.

Why the character classes are spelled out as code-point ranges instead of RE2's `\\p{P}`,
`\\p{S}`, `\\p{M}`, `\\s`: the Python rule reads Python's `unicodedata` tables (Unicode 13
on Python 3.10) and `is_separator`, while RE2 carries its own Unicode tables (a newer
version, so e.g. emoji added after Unicode 13 would be symbols in RE2 but letters in
Python) and its `\\s` is ASCII only. The ranges are generated from the very `unicodedata`
the Python rule uses and baked into the graph as constants at trace time, so training data
(tokenised in Python) and serving (tokenised in the graph) agree by construction.

Invalid UTF-8 is replaced by U+FFFD first (the Python side only ever sees decoded text).
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from typing import Callable, List, NamedTuple, Tuple

import tensorflow as tf

from tokenization import MAX_SEGMENTED_WORD, MIN_SEGMENTED_GAPS, NO_SPACE_RANGES, is_separator


def _ranges(predicate: Callable[[str], bool]) -> List[Tuple[int, int]]:
    """Maximal runs of code points for which `predicate(chr(cp))` holds."""
    runs: List[Tuple[int, int]] = []
    start = -1
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates never occur in UTF-8 text
            hit = False
        else:
            hit = predicate(chr(cp))
        if hit and start < 0:
            start = cp
        elif not hit and start >= 0:
            runs.append((start, cp - 1))
            start = -1
    if start >= 0:
        runs.append((start, sys.maxunicode))
    return runs


def _char_class(runs: List[Tuple[int, int]]) -> str:
    parts = [f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in runs]
    return "[" + "".join(parts) + "]"


class Patterns(NamedTuple):
    """The rule's RE2 patterns."""

    standalone: str  # a token by itself in any text (rule 1 or 2), in a group
    punctuation: str  # a token by itself in a word-segmented text (rule 1), in a group
    space: str  # a separator (rule 3)
    gaps: str  # MIN_SEGMENTED_GAPS times two no-space characters with only separators between them
    long_run: str  # a no-space run longer than a segmented text's words


@functools.lru_cache(maxsize=1)
def patterns() -> Patterns:
    punctuation = _char_class(_ranges(lambda ch: unicodedata.category(ch)[0] in "PS"))
    marks = _char_class(_ranges(lambda ch: unicodedata.category(ch)[0] == "M"))
    no_space = _char_class(list(NO_SPACE_RANGES))
    space = _char_class(_ranges(is_separator))
    gap = f"{no_space}{marks}*{space}+{no_space}"
    run_tail = f"(?:{no_space}|{marks})*"
    return Patterns(
        # Alternation order matters: RE2 is leftmost-first like Python's loop, which tests
        # "punctuation/symbol" before "no-space script" (e.g. U+0E3F THAI BAHT is a symbol).
        standalone=f"({punctuation}|{no_space}{marks}*)",
        punctuation=f"({punctuation})",
        space=space,
        # A run ends in a no-space character and its marks; a gap's right run may be the next
        # gap's left run; `(?s)`: `.` also matches newlines.
        gaps=f"(?s).*{gap}" + f"(?:{run_tail}{space}+{no_space}|.*{gap})" * (MIN_SEGMENTED_GAPS - 1) + ".*",
        long_run=f"(?s).*{no_space}(?:{no_space}|{marks}){{{MAX_SEGMENTED_WORD}}}.*",
    )


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    """Word tokens of each UTF-8 string in `texts` (shape [batch]) as a ragged [batch, (n)]."""
    rule = patterns()
    texts = tf.strings.unicode_transcode(
        texts, input_encoding="UTF-8", output_encoding="UTF-8", errors="replace", replacement_char=0xFFFD
    )
    segmented = tf.strings.regex_full_match(texts, rule.gaps) & ~tf.strings.regex_full_match(texts, rule.long_run)
    texts = tf.where(
        segmented,
        tf.strings.regex_replace(texts, rule.punctuation, r" \1 "),
        tf.strings.regex_replace(texts, rule.standalone, r" \1 "),
    )
    texts = tf.strings.regex_replace(texts, rule.space, " ")
    return tf.strings.split(texts)
