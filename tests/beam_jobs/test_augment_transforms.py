"""The augmentation job's composite transforms on their own, in-memory Beam and a few rows each."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.augment import (
    CANDIDATES,
    COUNTS,
    CountOutcomes,
    KeepNewTexts,
    ObeyRowRules,
    OfflineRows,
    RecombinePartners,
    SlotValueLists,
)
from beam_jobs.config import AugmentationConfig, DataConfig
from schemas.features import AUG_METHOD, AUGMENTED
from tests.conftest import beam_test_pipeline
from tokenization import words


def _row(i, text, intent, tags, lang="en"):
    """A dataset row as the job reads it: every feature a list."""
    return {
        "id": [f"t:train:{i}"],
        "lang": [lang],
        "text": [text],
        "tokens": words(text),
        "intent": [intent],
        "slot_tags": tags,
        "group_id": [f"g{i}"],
        "source": ["test"],
    }


def _candidate(text, method="word_swap", lang="en"):
    return {"id": f"c:{text}", "lang": lang, "text": text, AUGMENTED: 1, AUG_METHOD: method}


ROWS = [
    _row(0, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"]),
    _row(1, "please light up the hall now", "on", ["O", "O", "O", "O", "B-area", "O"]),
    _row(2, "turn off the kitchen fan", "off", ["O", "O", "O", "B-area", "O"]),
    _row(3, "mach die küche hell", "on", ["O", "O", "B-area", "O"], lang="de"),
]


def test_slot_value_lists_gathers_each_languages_values_of_a_slot():
    with beam_test_pipeline() as p:
        values = p | beam.Create(ROWS) | SlotValueLists()
        assert_that(values, equal_to([(("en", "area"), ["hall", "kitchen"]), (("de", "area"), ["küche"])]))


def test_translatable_words_come_from_text_with_words_only():
    from beam_jobs.augment import _training_words

    assert list(_training_words(ROWS[3])) == [("de", "mach"), ("de", "die"), ("de", "küche"), ("de", "hell")]
    # Word-segmented Thai (MTOP's) has words; Thai as usually written has characters only.
    segmented = _row(4, "ตั้ง นาฬิกา ปลุก", "on", ["O", "O", "O"], lang="th")
    assert list(_training_words(segmented)) == [("th", "ตั้ง"), ("th", "นาฬิกา"), ("th", "ปลุก")]
    assert list(_training_words(_row(5, "ตั้งนาฬิกาปลุก", "on", ["O"] * 11, lang="th"))) == []


def test_recombine_partners_groups_rows_by_language_and_intent_with_their_slot_edges():
    with beam_test_pipeline() as p:
        partners = p | beam.Create(ROWS) | RecombinePartners()
        texts = partners | beam.MapTuple(lambda key, rows: (key, [text for text, _ in rows]))
        assert_that(
            texts,
            equal_to(
                [
                    (("en", "on"), ["please light up the hall now", "turn on the kitchen light"]),
                    (("en", "off"), ["turn off the kitchen fan"]),
                    (("de", "on"), ["mach die küche hell"]),
                ]
            ),
        )


def test_offline_rows_draw_each_amount_times_the_scale():
    amounts = {m: 0.0 for m in ("slot_resample", "word_dropout", "word_swap", "char_distortion", "cross_lingual")}
    aug = AugmentationConfig(recombine=4.0, min_train_rows=0, **amounts)
    with beam_test_pipeline() as p:
        rows = p | beam.Create(ROWS)
        scale = beam.pvalue.AsSingleton(p | "Scale" >> beam.Create([2.0]))
        made = rows | OfflineRows(aug, seed=0, scale=scale)
        texts = made[CANDIDATES] | "Texts" >> beam.Map(lambda c: (c[AUG_METHOD], c["text"]))
        outcomes = made[COUNTS] | "Outcomes" >> beam.combiners.Count.PerElement()
        assert_that(
            texts | "Distinct" >> beam.Distinct(),
            equal_to(
                [
                    ("recombine", "turn on the kitchen now"),
                    ("recombine", "turn on the hall now"),
                    ("recombine", "please light up the kitchen light"),
                    ("recombine", "please light up the hall light"),
                ]
            ),
        )
        # 4 x 2 draws per row: the two "off" and "de" rows have no partner.
        assert_that(outcomes, equal_to([(("recombine", "not_applicable"), 16)]), label="NotApplicable")


def test_obey_row_rules_counts_a_candidate_over_max_tokens_under_the_rules_code():
    data = DataConfig(languages=["en"], max_tokens=4)
    with beam_test_pipeline() as p:
        checked = (
            p
            | beam.Create([_candidate("turn on the light"), _candidate("one two three four five")])
            | (ObeyRowRules(data))
        )
        kept = checked[CANDIDATES] | "Kept" >> beam.Map(lambda c: c["text"])
        assert_that(kept, equal_to(["turn on the light"]))
        assert_that(checked[COUNTS], equal_to([("word_swap", "too_many_tokens")]), label="Counts")


def test_keep_new_texts_drops_copies_of_any_split_and_repeated_candidates():
    candidates = [
        _candidate("Turn ON the kitchen light", "word_swap"),  # a train text, case aside
        _candidate("dim the hall", "word_dropout"),  # an eval text
        _candidate("open the door", "word_swap"),
        _candidate("open  the door", "slot_resample"),  # the same text, spaces aside
    ]
    evaluation = [_row(9, "dim the hall", "dim", ["O", "O", "B-area"])]
    with beam_test_pipeline() as p:
        inputs = {
            "candidates": p | "Candidates" >> beam.Create(candidates),
            "train": p | "Train" >> beam.Create(ROWS),
            "eval": p | "Eval" >> beam.Create(evaluation),
        }
        kept = inputs | KeepNewTexts()
        texts = kept[CANDIDATES] | "Texts" >> beam.Map(lambda c: c["text"])
        assert_that(texts, equal_to(["open  the door"]))
        assert_that(
            kept[COUNTS],
            equal_to(
                [
                    ("word_swap", "equals_train_text"),
                    ("word_dropout", "equals_eval_or_test_text"),
                    ("slot_resample", "emitted"),
                    ("word_swap", "duplicate_candidate"),
                ]
            ),
            label="Counts",
        )


def test_count_outcomes_writes_one_record_per_method_and_outcome():
    counts = [("recombine", "emitted")] * 3 + [("recombine", "not_applicable"), ("word_swap", "emitted")]
    with beam_test_pipeline() as p:
        records = p | beam.Create(counts) | CountOutcomes()
        assert_that(
            records,
            equal_to(
                [
                    {"method": "recombine", "outcome": "emitted", "count": 3},
                    {"method": "recombine", "outcome": "not_applicable", "count": 1},
                    {"method": "word_swap", "outcome": "emitted", "count": 1},
                ]
            ),
        )
