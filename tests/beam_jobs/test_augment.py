import glob
import os
import random

import tensorflow as tf
from apache_beam.pvalue import TaggedOutput

from beam_jobs import augment, augmentation
from beam_jobs.dataset.rows import check_text
from schemas.examples import decode
from schemas.features import AUG_METHOD
from tests.conftest import beam_test_pipeline, example_row, write_examples
from tokenization import words


def read_output(root):
    files = glob.glob(os.path.join(root, "Split-train", "*.gz"))
    return [decode(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_methods_change_the_text_as_documented():
    rng = random.Random(0)
    text, tags = "turn on the kitchen light", ["O", "O", "O", "B-area", "O"]
    values = {("en", "area"): ["kitchen", "living room"]}
    assert augmentation.slot_resample(text, tags, "en", values, rng) == "turn on the living room light"
    assert augmentation.slot_resample(text, ["O"] * 5, "en", values, rng) is None
    dropped = augmentation.word_dropout(text, rng)
    assert len(words(dropped)) == 4 and set(words(dropped)) < set(words(text))
    swapped = augmentation.word_swap(text, rng)
    assert sorted(words(swapped)) == sorted(words(text)) and swapped != text
    distorted = augmentation.char_distortion(text, rng)
    assert distorted != text and len(words(distorted)) == 5
    assert augmentation.word_swap("เปิดไฟ", random.Random(1)) in {"ปิเดไฟ", "เปิไดฟ", "เดปิไฟ", "เปิดฟไ"}


def test_recombine_joins_two_rows_of_an_intent_where_a_slot_of_the_same_name_starts_or_ends():
    alarm = "set an alarm for 7 am please", ["O", "O", "O", "O", "B-time", "I-time", "O"]
    wake = "wake me up at 6 tomorrow", ["O", "O", "O", "O", "B-time", "B-date"]
    assert augmentation.slot_edges(*alarm) == {"B-time": 17, "E-time": 22}
    # The date ends the row: no edge after it.
    assert augmentation.slot_edges(*wake) == {"B-time": 14, "E-time": 16, "B-date": 16}
    partners = [(text, augmentation.slot_edges(text, tags)) for text, tags in (alarm, wake)]
    made = {augmentation.recombine(alarm[0], partners[0][1], partners, random.Random(seed)) for seed in range(20)}
    assert made == {"set an alarm for 6 tomorrow", "set an alarm for 7 am tomorrow"}
    made = {augmentation.recombine(wake[0], partners[1][1], partners, random.Random(seed)) for seed in range(20)}
    assert made == {"wake me up at 7 am please", "wake me up at 6 please"}
    # Nothing to join to: only itself, or rows sharing no slot edge.
    assert augmentation.recombine(alarm[0], partners[0][1], partners[:1], random.Random(0)) is None
    stop = "stop the music", ["O", "O", "O"]
    assert augmentation.recombine(stop[0], {}, partners, random.Random(0)) is None


def test_the_job_recombines_rows_of_the_same_intent_and_language_only(write_config, tmp_path):
    rows = [
        example_row(0, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"], "train"),
        example_row(1, "please light up the hall now", "on", ["O", "O", "O", "O", "B-area", "O"], "train"),
        example_row(2, "turn off the bedroom fan", "off", ["O", "O", "O", "B-area", "O"], "train"),
        example_row(3, "mach die küche hell", "on", ["O", "O", "B-area", "O"], "train", lang="de"),
    ]
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "aug")
    write_examples(dataset, rows)
    amounts = {m: 0.0 for m in ("slot_resample", "word_dropout", "word_swap", "char_distortion", "cross_lingual")}
    config = write_config({"augmentation": {"min_train_rows": 0, "recombine": 8.0, **amounts}})
    summary = augment.run(
        ["--config", config, "--dataset_dir", dataset, "--output_dir", out], test_pipeline=beam_test_pipeline()
    )
    produced = {(p["lang"][0], p["text"][0]) for p in read_output(out)}
    assert produced == {
        ("en", "turn on the kitchen now"),
        ("en", "turn on the hall now"),
        ("en", "please light up the kitchen light"),
        ("en", "please light up the hall light"),
    }
    assert summary["by_method"]["recombine"]["emitted"] == 4


def test_job_never_generates_from_or_emits_eval_and_test_texts(write_config, tmp_path):
    rows = [
        example_row(0, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"], "train"),
        example_row(1, "turn off the bedroom fan", "off", ["O", "O", "O", "B-area", "O"], "train"),
        # Word dropout of "the" from train row 0 gives exactly this eval text.
        example_row(2, "Turn on kitchen light", "on", ["O", "O", "B-area", "O"], "eval"),
        example_row(3, "dim the hallway lamp", "dim", ["O", "O", "B-area", "O"], "test"),
    ]
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "aug")
    write_examples(dataset, rows)
    config = write_config(
        {
            "augmentation": {
                "min_train_rows": 0,
                "word_dropout": 30.0,
                "word_swap": 3.0,
                "slot_resample": 2.0,
                "char_distortion": 2.0,
            }
        }
    )
    summary = augment.run(
        ["--config", config, "--dataset_dir", dataset, "--output_dir", out],
        test_pipeline=beam_test_pipeline(),
    )
    produced = read_output(out)
    held_out = {augment.text_key("en", r["text"]) for r in rows if r["id"].split(":")[1] != "train"}
    originals = {augment.text_key("en", r["text"]) for r in rows}
    assert produced and len(produced) == summary["emitted"]
    assert all(augment.text_key(p["lang"][0], p["text"][0]) not in originals for p in produced)
    assert not held_out & {augment.text_key("en", p["text"][0]) for p in produced}
    assert summary["by_method"]["word_dropout"]["equals_eval_or_test_text"] >= 1
    assert {p["group_id"][0] for p in produced} <= {"g:train:0", "g:train:1"}
    assert all(p["augmented"] == [1] and p["aug_method"][0] in augment.OFFLINE_METHODS for p in produced)
    assert all(p["tokens"] == words(p["text"][0]) and "intent" not in p for p in produced)
    assert len({augment.text_key("en", p["text"][0]) for p in produced}) == len(produced)
    # "the bedroom" can become "the kitchen" (a value seen in training) by slot resampling.
    assert "turn off the kitchen fan" in {p["text"][0] for p in produced}


def _tiny_seq2seq(path, vocab_words):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {w: i for i, w in enumerate(specials + sorted(set(vocab_words)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    config = BartConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
    )
    BartForConditionalGeneration(config).save_pretrained(path)
    fast.save_pretrained(path)


def test_round_trip_translation_runs_configured_models(write_config, tmp_path):
    rows = [
        example_row(i, t, "on", ["O"] * len(words(t)), "train")
        for i, t in enumerate(["turn on the light", "open the door", "stop"])
    ]
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "aug")
    write_examples(dataset, rows)
    vocab = "turn on the light open door stop licht tür an".split()
    _tiny_seq2seq(str(tmp_path / "en-de"), vocab)
    _tiny_seq2seq(str(tmp_path / "de-en"), vocab)
    route = {"lang": "en", "pivot": "de", "to_pivot": "en-de", "from_pivot": "de-en"}
    config = write_config(
        {
            "augmentation": {
                "min_train_rows": 0,
                "slot_resample": 0.0,
                "word_dropout": 0.0,
                "word_swap": 0.0,
                "char_distortion": 0.0,
                "round_trip": {"amount": 1.0, "routes": [route], "batch_size": 2},
            }
        }
    )
    summary = augment.run(
        ["--config", config, "--dataset_dir", dataset, "--output_dir", out],
        test_pipeline=beam_test_pipeline(),
    )
    outcomes = summary["by_method"]["round_trip:de"]
    assert sum(outcomes.values()) == 3  # one paraphrase attempt per routed training row, each accounted for
    assert summary["dead_lettered"] == 0
    produced = read_output(out)
    assert all(p["aug_method"] == ["round_trip:de"] for p in produced)
    assert len(produced) == outcomes.get("emitted", 0)
    assert all(len(check_text(p["text"][0], p["lang"][0])) <= 64 for p in produced)  # data.max_tokens


def test_translate_words_replaces_known_words_only():
    lexicon = {"turn": ["mach"], "on": ["an"], "light": ["licht", "lampe"]}
    translated = augmentation.translate_words("Turn on light 3 %", lexicon, random.Random(0))
    assert translated.split()[:2] == ["mach", "an"] and translated.split()[2] in {"licht", "lampe"}
    assert translated.endswith("3 %")  # numbers and symbols stay
    assert augmentation.translate_words("42 %", lexicon, random.Random(0)) is None
    again = [augmentation.translate_words("turn on light", lexicon, random.Random(s)) for s in (1, 1, 2)]
    assert again[0] == again[1]  # the seed decides


CROSS_LINGUAL_ROWS = [
    example_row(0, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"], "train"),
    example_row(1, "stop timer", "stop", ["O", "O"], "train"),
    example_row(2, "mach das licht in der küche an", "on", ["O"] * 7, "train", lang="de"),
    example_row(3, "timer stop jetzt", "stop", ["O"] * 3, "train", lang="de"),
    example_row(4, "เปิดไฟ", "on", ["O"] * 3, "train", lang="th"),
    # Words both languages use are their own nearest translation, so row 1 in German is this.
    example_row(5, "Stop Timer", "stop", ["O"] * 2, "eval", lang="de"),
    example_row(6, "mach den timer an", "on", ["O"] * 4, "test", lang="de"),
]


def _cross_lingual_job(tmp_path, write_config, out):
    from teacher.tiny import make_tiny_base

    base = tmp_path / "base"
    if not base.exists():
        make_tiny_base(str(base), [r["text"] for r in CROSS_LINGUAL_ROWS], hidden_size=16)
    dataset = tmp_path / "ds"
    if not dataset.exists():
        write_examples(str(dataset), CROSS_LINGUAL_ROWS)
    only_cross_lingual = {"slot_resample": 0.0, "word_dropout": 0.0, "word_swap": 0.0, "char_distortion": 0.0}
    config = write_config(
        {
            "augmentation": {
                **only_cross_lingual,
                "min_train_rows": 0,
                "cross_lingual": 3.0,
                "cross_lingual_neighbours": 1,
            },
            "teacher": {"base": str(base)},
            "data": {"languages": ["en", "de", "th"]},
        }
    )
    summary = augment.run(
        ["--config", config, "--dataset_dir", str(dataset), "--output_dir", str(tmp_path / out)],
        test_pipeline=beam_test_pipeline(),
    )
    return summary, read_output(str(tmp_path / out))


def test_cross_lingual_rows_are_train_rows_in_another_language(write_config, tmp_path):
    summary, produced = _cross_lingual_job(tmp_path, write_config, "aug")
    outcomes = summary["by_method"]["cross_lingual"]
    assert produced and len(produced) == outcomes["emitted"]
    # 3 draws per training row, each accounted for; the Thai row has no words to translate.
    assert sum(outcomes.values()) == 3 * 5 and outcomes["not_applicable"] == 3
    by_id = {r["id"]: r for r in CROSS_LINGUAL_ROWS}
    vocabulary = {
        lang: {w for r in CROSS_LINGUAL_ROWS if r["lang"] == lang and ":train:" in r["id"] for w in r["tokens"]}
        for lang in ("en", "de")
    }
    for p in produced:
        parent = by_id[p["id"][0].split("~")[0]]
        assert ":train:" in parent["id"] and p["group_id"] == [parent["group_id"]]
        assert p["lang"][0] in {"en", "de"} and p["lang"][0] != parent["lang"]
        assert set(p["tokens"]) <= vocabulary[p["lang"][0]]  # the target's own training words
        assert p["aug_method"] == ["cross_lingual"] and "intent" not in p
        assert [t.text for t in check_text(p["text"][0], p["lang"][0], 64, ["en", "de", "th"])] == p["tokens"]
    held_out = {augment.text_key(r["lang"], r["text"]) for r in CROSS_LINGUAL_ROWS if ":train:" not in r["id"]}
    assert not held_out & {augment.text_key(p["lang"][0], p["text"][0]) for p in produced}
    assert outcomes["equals_eval_or_test_text"] >= 1  # "stop timer" in German: the eval row, dropped
    # The same seed gives the same rows.
    _, again = _cross_lingual_job(tmp_path, write_config, "aug2")
    assert sorted((p["id"][0], p["text"][0]) for p in again) == sorted((p["id"][0], p["text"][0]) for p in produced)


def test_cross_lingual_balance_sends_rows_to_the_languages_with_fewest_templates():
    induced = {("en", "de"): {"light": ["licht"]}, ("en", "hi"): {"light": ["लाइट"]}}
    templates = {"en": 40, "de": 40, "hi": 4}  # Hindi has a tenth of German's templates
    parents = [
        {"id": [f"en:train:{i}"], "lang": ["en"], "text": ["light"], "group_id": ["g"], "source": ["s"]}
        for i in range(400)
    ]

    def targets(balance, seed=0):
        do_fn = augment.CrossLingual(amount=1.0, balance=balance, seed=seed)
        return [out.value["lang"] for p in parents for out in do_fn.process(p, induced, templates, 1.0)]

    uniform, balanced = targets(0.0), targets(1.0)
    assert len(uniform) == len(balanced) == 400  # the amount is the same, only the targets move
    assert 0.4 < uniform.count("hi") / 400 < 0.6
    assert balanced.count("hi") / 400 > 0.85  # weight 1/4 against 1/40: 10 of 11 draws
    assert targets(1.0) == balanced and targets(1.0, seed=1) != balanced  # deterministic per seed


# Thai is tokenised by character cluster, so a longer slot value or a repeated character adds
# tokens: "ห้องนอน" is 6, "ห้องนั่งเล่น" 8, and repeating the "น" of "นั่" splits it in two.
THAI_ROWS = [
    example_row(0, "เปิดไฟห้องนอน", "on", ["O"] * 5 + ["B-area"] + ["I-area"] * 5, "train", lang="th"),
    example_row(1, "ปิดไฟห้องนั่งเล่น", "off", ["O"] * 4 + ["B-area"] + ["I-area"] * 7, "train", lang="th"),
    example_row(2, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"], "train"),
]
THAI_MAX_TOKENS = 12


def test_generated_rows_obey_the_dataset_row_rules(write_config, tmp_path):
    assert [len(r["tokens"]) for r in THAI_ROWS] == [11, 12, 5]  # the training rows obey max_tokens 12
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "aug")
    write_examples(dataset, THAI_ROWS)
    config = write_config(
        {
            "augmentation": {
                "min_train_rows": 0,
                "slot_resample": 2.0,
                "word_dropout": 0.0,
                "word_swap": 2.0,
                "char_distortion": 8.0,
            },
            "data": {"max_tokens": THAI_MAX_TOKENS, "languages": ["th", "en"]},
        }
    )
    summary = augment.run(
        ["--config", config, "--dataset_dir", dataset, "--output_dir", out],
        test_pipeline=beam_test_pipeline(),
    )
    by_method = summary["by_method"]
    # Row 0 with the living room (5 + 8 = 13 tokens) is over the limit, each of its 2 draws.
    assert by_method["slot_resample"]["too_many_tokens"] == 2
    assert by_method["char_distortion"]["too_many_tokens"] >= 1
    # Every draw is accounted for: 2 slot resamplings and 8 distortions of each training row.
    assert sum(by_method["slot_resample"].values()) == 2 * 3
    assert sum(by_method["char_distortion"].values()) == 8 * 3
    assert summary["dead_lettered"] == 0  # made texts, not bad inputs
    produced = read_output(out)
    assert len(produced) == summary["emitted"]
    assert "ปิดไฟห้องนอน" in {p["text"][0] for p in produced}  # row 1 with the bedroom: 10 tokens
    assert {p["aug_method"][0] for p in produced} >= {"slot_resample", "word_swap", "char_distortion"}
    for p in produced:
        tokens = check_text(p["text"][0], p["lang"][0], THAI_MAX_TOKENS, ["th", "en"])
        assert p["tokens"] == [t.text for t in tokens] and len(tokens) <= THAI_MAX_TOKENS


def test_a_candidate_breaking_a_row_rule_is_counted_under_its_code():
    from beam_jobs.config import DataConfig

    data = DataConfig(max_tokens=4, languages=["en", "de"], max_line_bytes=40)

    def outcome(text, lang="en"):
        candidate = {"text": text, "lang": lang, "tokens": words(text), AUG_METHOD: "word_swap"}
        out = list(augment._obey_row_rules(candidate, data))
        assert len(out) == 1
        return out[0].value if isinstance(out[0], TaggedOutput) else "emitted"

    assert outcome("turn on the light") == "emitted"
    assert outcome("turn on the kitchen light") == ("word_swap", "too_many_tokens")
    assert outcome("turn on\x07 light") == ("word_swap", "control_character")
    assert outcome("turn on \ud800") == ("word_swap", "bad_unicode")
    assert outcome("  ") == ("word_swap", "empty_text")
    assert outcome("mach das licht an", lang="fr") == ("word_swap", "language_not_selected")
    assert outcome("a" * 41) == ("word_swap", "line_too_long")


def test_a_small_train_split_gets_every_amount_scaled_up_to_min_train_rows():
    from beam_jobs.config import AugmentationConfig

    config = AugmentationConfig(slot_resample=1.0, word_dropout=0.5, word_swap=0.25, char_distortion=0.25,
                                cross_lingual=0.5, min_train_rows=70000, max_scale=10.0)  # fmt: skip
    assert config.scale(20000) == 1.0  # 20,000 x 3.5 = 70,000 rows already
    assert config.scale(10000) == 2.0
    assert config.scale(100) == 10.0  # at most max_scale
    assert AugmentationConfig(min_train_rows=0).scale(10) == 1.0


def test_the_job_draws_scaled_amounts_and_says_by_how_much(write_config, tmp_path):
    rows = [example_row(i, f"turn on light number {i}", "on", ["O"] * 5, "train") for i in range(4)]
    rows += [example_row(9, "switch off", "off", ["O", "O"], "eval"), example_row(10, "stop", "stop", ["O"], "test")]
    dataset = str(tmp_path / "ds")
    write_examples(dataset, rows)
    only_swap = dict.fromkeys(("slot_resample", "word_dropout", "char_distortion", "cross_lingual"), 0.0)
    only_swap["word_swap"] = 1.0
    config = write_config({"augmentation": {**only_swap, "min_train_rows": 20, "max_scale": 10.0}})
    summary = augment.run(
        ["--config", config, "--dataset_dir", dataset, "--output_dir", str(tmp_path / "aug")],
        test_pipeline=beam_test_pipeline(),
    )
    # 4 rows x (1 + 1 swap) = 8 < 20: every amount x2.5, so 2 or 3 swaps per row (10 draws in all).
    assert summary["amount_scale"] == 2.5
    assert sum(summary["by_method"]["word_swap"].values()) in range(8, 13)
