"""The data contract every stage shares, defined once (like the TFX templates' `features.py`).

Feature names of the examples (`schemas/*/schema.pbtxt` hold their types and presence),
split names and the `Split-*` layout of an `Examples` artifact, the label vocabulary files
and their reader, the BIO span rule, the labelled row, the TFLite file name of the
exported student and the headline metric. Imports nothing of the project and no framework.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

# ---------------------------------------------------------------------- splits and layout
SPLITS = ("train", "eval", "test")
TRAIN, EVAL, TEST = SPLITS
# Each split of an `Examples` artifact: DIR/Split-<name>/data_tfrecord-*.gz (gzipped TFRecords).
SPLIT_DIR_PREFIX = "Split-"
RECORD_FILE_PREFIX = "data_tfrecord"
RECORD_FILE_SUFFIX = ".gz"

# ---------------------------------------------------------------------- features
ID, LANG, TEXT, TOKENS, INTENT, SLOT_TAGS, GROUP_ID, SOURCE = (
    "id", "lang", "text", "tokens", "intent", "slot_tags", "group_id", "source",
)  # fmt: skip
DATASET_FEATURES = (ID, LANG, TEXT, TOKENS, INTENT, SLOT_TAGS, GROUP_ID, SOURCE)
# Augmented (unlabelled) rows: gold INTENT / SLOT_TAGS are absent, these mark them.
AUGMENTED, AUG_METHOD = "augmented", "aug_method"
# What teacher inference adds: logits in the label vocabulary order, and its argmax labels.
TEACHER_INTENT_LOGITS = "teacher_intent_logits"  # [#intents]
TEACHER_SLOT_LOGITS = "teacher_slot_logits"  # [#tokens x #tags], row-major, one row per word
TEACHER_INTENT, TEACHER_SLOT_TAGS = "teacher_intent", "teacher_slot_tags"

# ---------------------------------------------------------------------- labels
OUTSIDE_TAG = "O"
# Label vocabularies: as tf.Transform names them in a TransformGraph, and as files beside an
# exported student (one label per line).
INTENT_VOCAB, SLOT_TAG_VOCAB = "intent_vocab", "slot_tag_vocab"
VOCAB_FILE_SUFFIX = ".txt"

# ---------------------------------------------------------------------- exports and metrics
# The int8 TFLite encoder inside the student's SavedModel folder.
TFLITE_DIR, TFLITE_FILE = "assets.extra", "student_int8.tflite"
# Where and why training stopped: the teacher fine-tune's metrics next to the teacher model,
# the Trainer's stopping report next to its TensorBoard logs (the ModelRun artifact).
TEACHER_METRICS_FILE = "metrics.json"
STUDENT_STOPPING_FILE = "stopping.json"
# The Evaluator's headline metric and blessing gate: student exact match / teacher exact match.
HEADLINE = "fraction_of_teacher_exact_match"

Span = Tuple[int, int, str]  # (first word, last word + 1, slot name)


def split_dir(root: str, split: str) -> str:
    """The folder of one split (`root` may be a local path or a gs:// / s3:// URI)."""
    return f"{root.rstrip('/')}/{SPLIT_DIR_PREFIX}{split}"


def split_file_pattern(root: str, split: str) -> str:
    """Glob of one split's record files."""
    return f"{split_dir(root, split)}/{RECORD_FILE_PREFIX}-*{RECORD_FILE_SUFFIX}"


def vocab_file(folder: str, name: str) -> str:
    return os.path.join(folder, name + VOCAB_FILE_SUFFIX)


def text_key(lang: str, text: str) -> Tuple[str, str]:
    """What counts as "the same text" across splits: the student lower-cases, so case and
    spacing don't matter."""
    return lang, " ".join(text.casefold().split())


def bio_spans(tags: Sequence[str]) -> List[Span]:
    """Slot spans of a BIO sequence, in order; an I- tag that does not continue a span of its
    slot opens one (conlleval's rule)."""
    spans: List[Span] = []
    name, start = None, 0
    for i, tag in enumerate(list(tags) + [OUTSIDE_TAG]):
        prefix, _, slot = tag.partition("-")
        continues = prefix == "I" and slot == name
        if name is not None and not continues:
            spans.append((start, i, name))
            name = None
        if prefix in ("B", "I") and not continues:
            name, start = slot, i
    return spans


def sorted_vocabularies(intents: Iterable[str], slot_names: Iterable[str]) -> Tuple[List[str], List[str]]:
    """(intents, slot tags) by the rule of the libraries' own CLIs: sorted, "O" first, then
    B-/I- of each slot. (In the pipeline, tf.Transform's vocabularies are the source.)"""
    tags = [OUTSIDE_TAG] + [f"{p}-{s}" for s in sorted(set(slot_names)) for p in ("B", "I")]
    return sorted(set(intents)), tags


@dataclass
class LabelledRow:
    """One utterance with word tokens and BIO slot tags, as the dataset job writes it."""

    id: str
    lang: str
    text: str
    tokens: List[str]
    intent: str
    slot_tags: List[str]
    group_id: str = ""
    source: str = ""

    def features(self) -> dict:
        return {name: getattr(self, name) for name in DATASET_FEATURES}
