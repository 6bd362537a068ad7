"""Fine-tuning on a toy dataset (gzipped TFRecords as the dataset job writes them)."""

import json
import os

import pytest
import torch

from teacher import data as data_lib
from teacher.__main__ import main
from teacher.device import pick_device
from teacher.finetune import EarlyStopping, evaluate, finetune, train
from teacher.inputs import encode_words
from teacher.model import JointTeacher, load_teacher, load_tokenizer
from teacher.tiny import make_tiny_base
from tokenization import words

AREAS_EN = ["kitchen", "bedroom", "living room", "garage"]
AREAS_TH = ["ครัว", "ห้องนอน", "โรงรถ", "ห้องน้ำ"]
INTENTS = ["TurnOn", "TurnOff", "Weather"]
TAGS = ["O", "B-area", "I-area"]


def _example(lang, prefix, area, suffix, intent):
    sep = "" if lang == "th" else " "
    text = sep.join(p for p in (prefix, area, suffix) if p)
    before, area_words, after = words(prefix), words(area), words(suffix)
    tags = ["O"] * len(before) + ["B-area"] + ["I-area"] * (len(area_words) - 1) + ["O"] * len(after)
    return {"lang": lang, "text": text, "tokens": before + area_words + after, "intent": intent, "slot_tags": tags}


def _toy_rows():
    rows = []
    for area_en, area_th in zip(AREAS_EN, AREAS_TH):
        rows.append(_example("en", "turn on the", area_en, "light", "TurnOn"))
        rows.append(_example("en", "turn off the", area_en, "light", "TurnOff"))
        rows.append(_example("en", "switch off the light in the", area_en, "", "TurnOff"))
        rows.append(_example("th", "เปิดไฟ", area_th, "", "TurnOn"))
        rows.append(_example("th", "ช่วยเปิดไฟ", area_th, "หน่อย", "TurnOn"))
        rows.append(_example("th", "ปิดไฟ", area_th, "", "TurnOff"))
    weather = [
        "what is the weather",
        "how is the weather today",
        "what is the weather like",
        "อากาศเป็นอย่างไร",
        "วันนี้อากาศเป็นอย่างไร",
        "อากาศวันนี้",
    ]
    for text in weather:
        lang = "en" if text.isascii() else "th"
        rows.append(
            {
                "lang": lang,
                "text": text,
                "tokens": words(text),
                "intent": "Weather",
                "slot_tags": ["O"] * len(words(text)),
            }
        )
    return rows


def _write_dataset(folder, splits):
    import tensorflow as tf

    def feature(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))

    for split, rows in splits.items():
        os.makedirs(os.path.join(folder, f"Split-{split}"), exist_ok=True)
        path = os.path.join(folder, f"Split-{split}", "data_tfrecord-00000-of-00001.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for i, row in enumerate(rows):
                ex = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            "id": feature([f"{split}-{i}"]),
                            "lang": feature([row["lang"]]),
                            "text": feature([row["text"]]),
                            "tokens": feature(row["tokens"]),
                            "intent": feature([row["intent"]]),
                            "slot_tags": feature(row["slot_tags"]),
                            "group_id": feature([f"g{i}"]),
                            "source": feature(["toy"]),
                        }
                    )
                )
                writer.write(ex.SerializeToString())


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    rows = _toy_rows()
    # Every fifth row is held out: a template + area combination whose template and area
    # both occur in train (or one of several weather questions). The rest (x3) is train.
    held_out = rows[::5]
    splits = {"train": [r for i, r in enumerate(rows) if i % 5] * 3, "eval": held_out, "test": held_out}
    _write_dataset(str(root / "dataset"), splits)
    # Thai template parts and areas listed apart (not the Thai commands themselves), so
    # "เปิดไฟครัว" splits as "เปิดไฟ" + "##ครัว".
    corpus = [r["text"] for r in rows if r["lang"] == "en" or r["intent"] == "Weather"]
    corpus += ["เปิดไฟ ช่วยเปิดไฟ ปิดไฟ หน่อย", " ".join(AREAS_TH)]
    base = make_tiny_base(str(root / "base"), corpus)
    return str(root / "dataset"), base, splits


def test_reader_reads_what_tensorflow_wrote(toy):
    dataset, _, splits = toy
    got = data_lib.read_split(dataset, "eval")
    assert [(e.lang, e.text, e.tokens, e.intent, e.slot_tags) for e in got] == [
        (r["lang"], r["text"], r["tokens"], r["intent"], r["slot_tags"]) for r in splits["eval"]
    ]


def test_finetune_cli_raises_exact_match(toy, tmp_path, write_config):
    dataset, base, _ = toy
    eval_examples = data_lib.read_split(dataset, "eval")
    torch.manual_seed(42)
    untrained = JointTeacher.from_base(base, INTENTS, TAGS)
    before = evaluate(untrained, load_tokenizer(base), eval_examples, 32, 64, pick_device())["all"]["exact_match"]

    config = write_config(
        {
            "teacher": {
                "base": base,
                "finetune": {
                    "max_steps": 450,  # 50 passes of 72 rows
                    "eval_every_steps": 90,
                    "patience": 5,
                    "batch_size": 8,
                    "learning_rate": 2.0e-3,
                    "head_learning_rate": 1.0e-2,
                    "max_length": 32,
                    "freeze_word_embeddings": False,
                    "num_threads": 1,
                },
            }
        }
    )
    out = tmp_path / "teacher"
    assert main(["finetune", "--config", config, "--dataset", dataset, "--output", str(out)]) == 0

    report = json.loads((out / "metrics.json").read_text())
    after = report["eval"]["all"]["exact_match"]
    assert set(report["eval"]) == {"en", "th", "all"}
    assert after >= 0.8 and after >= before + 0.5, (before, after)
    model, tokenizer = load_teacher(str(out))  # the saved folder is a complete teacher
    # Without the pipeline's Transform, the labels are the train split's, sorted.
    assert (list(model.config.intent_labels), list(model.config.slot_labels)) == (sorted(INTENTS), TAGS)
    assert evaluate(model, tokenizer, eval_examples, 32, 64, pick_device())["all"]["exact_match"] == after


def test_finetuned_path_skips_training(tmp_path, write_config):
    from config_core import load_sections
    from teacher.config import TeacherConfig

    existing = tmp_path / "my_teacher"
    existing.mkdir()
    path = write_config({"teacher": {"finetuned_path": "my_teacher", "base": "/does/not/exist"}})
    teacher = load_sections(path, [], {"teacher": TeacherConfig})["teacher"]
    out = tmp_path / "out"
    assert finetune(teacher, 42, str(tmp_path / "no_dataset"), str(out)) == str(existing)
    assert not out.exists()


def test_early_stopping_waits_patience_evaluations_for_a_gain_of_min_delta():
    stopping = EarlyStopping(patience=2, min_delta=0.01)
    assert stopping.update(100, 0.50) and not stopping.stop
    assert not stopping.update(200, 0.505) and not stopping.stop  # a gain under min_delta
    assert stopping.update(300, 0.52) and not stopping.stop  # a real gain resets the wait
    assert not stopping.update(400, 0.40) and not stopping.stop
    assert not stopping.update(500, 0.52) and stopping.stop
    assert (stopping.best_step, stopping.best_score) == (300, 0.52)


def test_fine_tuning_stops_on_eval_and_keeps_the_best_evaluation(toy, tmp_path):
    from teacher.config import TeacherFinetuneConfig

    dataset, base, _ = toy
    # No evaluation can gain 1.0 exact match over the first: training stops after the first
    # evaluation plus `patience` more, far inside the budget, and keeps the first's weights.
    cfg = TeacherFinetuneConfig(
        max_steps=900, eval_every_steps=10, patience=2, min_delta=1.0, batch_size=8, learning_rate=2e-3,
        max_length=32, freeze_word_embeddings=False, num_threads=1,
    )  # fmt: skip
    out = tmp_path / "teacher"
    report = train(base, dataset, str(out), cfg, labels=(INTENTS, TAGS))
    assert report["stopped"] == {
        "best_step": 10,
        "best_epoch": round(10 / 9, 2),
        "last_step": 30,
        "reason": "no eval gain of 1.0 in 2 evaluations",
    }
    assert [point["step"] for point in report["eval_curve"]] == [10, 20, 30]
    assert report["eval"]["all"]["exact_match"] == report["eval_curve"][0]["exact_match"]
    model, tokenizer = load_teacher(str(out))  # the saved weights are the kept evaluation's
    eval_examples = data_lib.read_split(dataset, "eval")
    assert evaluate(model, tokenizer, eval_examples, 32, 64, pick_device()) == report["eval"]
    assert json.loads((out / "metrics.json").read_text())["stopped"]["best_step"] == 10


def test_a_train_row_longer_than_max_length_is_left_out_and_counted(toy, tmp_path):
    from teacher.config import TeacherFinetuneConfig

    dataset, base, _ = toy
    # 8 sub-tokens hold [CLS], [SEP] and 6 pieces: the longer toy rows do not fit.
    cfg = TeacherFinetuneConfig(
        max_steps=2, eval_every_steps=2, batch_size=8, max_length=8, freeze_word_embeddings=False, num_threads=1
    )
    report = train(base, dataset, str(tmp_path / "teacher"), cfg, labels=(INTENTS, TAGS))
    left_out = report["train_rows_left_out"]["no_sub_token"]
    tokenizer = load_tokenizer(base)
    expected = [
        ex.id for ex in data_lib.read_split(dataset, "train")
        if int(encode_words(ex.tokens, tokenizer, 8)["word_mask"].sum()) < len(ex.tokens)
    ]  # fmt: skip
    assert left_out == expected and 0 < len(left_out) < 72


def test_slot_substitution_swaps_values_of_the_same_slot_and_language_and_moves_the_tags():
    from schemas.features import LabelledRow, bio_spans
    from teacher.finetune import substitute_slots

    def row(i, lang, tokens, tags):
        return LabelledRow(f"r{i}", lang, " ".join(tokens), tokens, "TurnOn", tags)

    rows = [
        row(0, "en", ["turn", "on", "the", "kitchen", "light"], ["O", "O", "O", "B-area", "O"]),
        row(1, "en", ["light", "in", "the", "living", "room"], ["O", "O", "O", "B-area", "I-area"]),
        row(2, "en", ["lights", "on"], ["O", "O"]),  # no slot: no new row
        row(3, "th", ["เ", "ปิ", "ด", "ค", "รัว"], ["O", "O", "O", "B-area", "I-area"]),  # its only value
    ]
    import random

    new = substitute_slots(rows, 10.0, random.Random(0))
    assert new and {r.id.split("~")[0] for r in new} == {"r0", "r1"}  # Thai has no other value to draw
    for r in new:
        assert len(r.tokens) == len(r.slot_tags)
        [(start, end, name)] = bio_spans(r.slot_tags)
        assert name == "area" and r.tokens[start:end] in (["kitchen"], ["living", "room"])
        assert r.tokens[:start] == rows[int(r.id[1])].tokens[:start]  # the words around stay
    assert substitute_slots(rows, 0.0, random.Random(0)) == []
