import json
import os

import numpy as np
import pytest
import torch

from beam_jobs import teacher_inference
from beam_jobs.outputs import JobError
from teacher.config import TeacherInferenceConfig
from teacher.inputs import encode_words
from teacher.model import JointTeacher, load_tokenizer
from teacher.tiny import make_tiny_base
from tests.conftest import beam_test_pipeline, example_row, write_examples

INTENTS = ["off", "on"]
TAGS = ["O", "B-area", "I-area"]


def _teacher(tmp_path):
    base = make_tiny_base(
        str(tmp_path / "base"), ["turn on the light", "turn off the fan", "a bath room in the hall way"], vocab_size=60
    )
    model = JointTeacher.from_base(base, INTENTS, TAGS)
    path = str(tmp_path / "teacher")
    model.save_pretrained(path)
    load_tokenizer(base).save_pretrained(path)
    return path


def read_output_split(root, split):
    import glob

    import tensorflow as tf

    from schemas.examples import decode

    files = glob.glob(os.path.join(root, f"Split-{split}", "*.gz"))
    return [decode(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_soft_labels_equal_a_direct_model_call(write_config, tmp_path):
    rows = [
        # "bathroom", "hallway": not in the tiny vocabulary, so several sub-tokens each.
        example_row(0, "turn on the bathroom hallway light", "on", ["O", "O", "O", "B-area", "I-area", "O"], "train"),
        example_row(1, "เปิดไฟห้องนอน", "on", ["O"] * 9, "eval", lang="th"),
        example_row(2, "turn off the fan", "off", ["O"] * 4, "test"),
    ]
    dataset, augmented, out = str(tmp_path / "ds"), str(tmp_path / "aug"), str(tmp_path / "soft")
    write_examples(dataset, rows)
    aug_row = {
        **example_row(3, "turn on bathroom light", "", [], "train"),
        "augmented": 1,
        "aug_method": "word_dropout",
    }
    del aug_row["intent"], aug_row["slot_tags"]
    write_examples(augmented, [aug_row])
    teacher = _teacher(tmp_path)
    summary = teacher_inference.run(
        [
            "--config",
            write_config({"teacher": {"inference": {"min_batch_size": 1, "max_batch_size": 2, "precision": "fp32"}}}),
            "--dataset_dir",
            dataset,
            "--augmented_dir",
            augmented,
            "--teacher_dir",
            teacher,
            "--output_dir",
            out,
        ],
        test_pipeline=beam_test_pipeline(),
    )
    assert summary["rows_in"] == 4 == summary["rows_out"] and summary["dead_lettered"] == 0
    assert summary["labels"] == {"intents": INTENTS, "slot_tags": TAGS}

    model, tokenizer = JointTeacher.from_pretrained(teacher).eval(), load_tokenizer(teacher)
    produced = {r["id"][0]: r for split in ("train", "eval", "test") for r in read_output_split(out, split)}
    assert set(produced) == {"t:train:0", "t:eval:1", "t:test:2", "t:train:3"}
    for row_id, row in produced.items():
        inputs = encode_words(row["tokens"], tokenizer, 128)
        with torch.no_grad():
            direct = model(**{k: v.unsqueeze(0) for k, v in inputs.items()})
        words = len(row["tokens"])
        expected_slots = (direct.slot_logits[0] * inputs["word_mask"].unsqueeze(-1)).numpy()
        np.testing.assert_allclose(row["teacher_intent_logits"], direct.intent_logits[0].numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            np.reshape(row["teacher_slot_logits"], (words, len(TAGS))), expected_slots, rtol=1e-4, atol=1e-5
        )
        assert row["teacher_intent"] == [INTENTS[int(np.argmax(row["teacher_intent_logits"]))]]
        assert len(row["teacher_slot_tags"]) == words
    multi = encode_words(produced["t:train:0"]["tokens"], tokenizer, 128)
    assert len(multi["input_ids"]) > len(produced["t:train:0"]["tokens"]) + 2  # some words really are split
    assert produced["t:train:3"]["augmented"] == [1] and "intent" not in produced["t:train:3"]
    assert produced["t:train:0"]["augmented"] == [0] and produced["t:train:0"]["aug_method"] == [""]


def test_rows_the_teacher_cannot_take_are_dead_lettered(write_config, tmp_path):
    rows = [
        example_row(0, "turn on the light", "on", ["O"] * 4, "train"),
        example_row(1, " ".join(["light"] * 40), "on", ["O"] * 40, "train"),
    ]
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "soft")
    write_examples(dataset, rows)
    summary = teacher_inference.run(
        [
            "--config",
            write_config({"teacher": {"inference": {"max_length": 16}}}),
            "--dataset_dir",
            dataset,
            "--teacher_dir",
            _teacher(tmp_path),
            "--output_dir",
            out,
        ],
        test_pipeline=beam_test_pipeline(),
    )
    assert summary["rows_in"] == 2 == summary["rows_out"] + summary["dead_lettered"]
    assert summary["dead_letter_reasons"] == {"encode_failed": 1}
    dead = [
        json.loads(line)
        for f in os.listdir(os.path.join(out, "dead_letter"))
        for line in open(os.path.join(out, "dead_letter", f))
    ]
    assert dead[0]["location"] == "t:train:1" and "teacher.inference.max_length=16" in dead[0]["reason"]


def test_logits_follow_the_pipeline_label_order(tmp_path):
    rows = [example_row(0, "turn on the bath light", "on", ["O", "O", "O", "B-area", "O"], "train")]
    dataset = str(tmp_path / "ds")
    write_examples(dataset, rows)
    teacher = _teacher(tmp_path)
    inference = TeacherInferenceConfig(min_batch_size=1, max_batch_size=1, precision="fp32")

    def soft_labels(name, labels):
        pipeline = beam_test_pipeline()
        teacher_inference.build(pipeline, inference, dataset, None, teacher, str(tmp_path / name), labels)
        return read_output_split(str(tmp_path / name), "train")[0]

    own = soft_labels("own", None)
    swapped = soft_labels("swapped", (INTENTS[::-1], [TAGS[0], TAGS[2], TAGS[1]]))
    np.testing.assert_allclose(swapped["teacher_intent_logits"], own["teacher_intent_logits"][::-1])
    own_slots, swapped_slots = (np.reshape(r["teacher_slot_logits"], (5, 3)) for r in (own, swapped))
    np.testing.assert_allclose(swapped_slots, own_slots[:, [0, 2, 1]])
    assert (
        swapped["teacher_intent"] == own["teacher_intent"] and swapped["teacher_slot_tags"] == own["teacher_slot_tags"]
    )
    with pytest.raises(JobError, match="the teacher has no intent label 'dim'"):
        soft_labels("missing", (INTENTS + ["dim"], TAGS))
    assert not os.path.exists(str(tmp_path / "missing"))  # refused before any work
