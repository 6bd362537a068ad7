"""`data.unlabeled`: the user's own unlabelled utterances through the Augment job (teacher-only
training rows, the leakage guard, dead letters) and teacher inference."""

import json

import pytest

from beam_jobs import augment, teacher_inference
from teacher.config import TeacherInferenceConfig
from teacher.model import JointTeacher, load_tokenizer
from teacher.tiny import make_tiny_base
from tests.conftest import beam_test_pipeline, example_row, read_dataset_rows, read_dead_letters, write_examples
from tokenization import words

DATASET = [
    example_row(0, "turn on the kitchen light", "on", ["O", "O", "O", "B-area", "O"], "train"),
    example_row(1, "dim the hallway lamp", "dim", ["O", "O", "B-area", "O"], "eval"),
    example_row(2, "open the garage", "open", ["O", "O", "B-area"], "test"),
]
NO_AUGMENTATION = {"enabled": False}


def _jsonl(*objects):
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


def _augment(tmp_path, write_config, data, augmentation=NO_AUGMENTATION, out="aug"):
    """Run the Augment job's CLI on DATASET with these `data` and `augmentation` sections."""
    dataset = tmp_path / "ds"
    if not dataset.exists():
        write_examples(dataset, DATASET)
    config = write_config({"data": data, "augmentation": augmentation})
    summary = augment.run(
        ["--config", config, "--dataset_dir", str(dataset), "--output_dir", str(tmp_path / out)],
        test_pipeline=beam_test_pipeline(),
    )
    return summary, {r["id"][0]: r for r in read_dataset_rows(tmp_path / out, ("train",))}


def _accounted(unlabeled):
    return unlabeled["emitted"] + sum(unlabeled["dropped"].values()) + unlabeled["dead_lettered"]


def test_jsonl_and_plain_text_become_teacher_only_training_rows(write_config, tmp_path):
    (tmp_path / "traffic.jsonl").write_text(
        _jsonl(
            {"text": "switch off the oven", "id": "req-1"},
            {"text": "schalte das Licht ein", "lang": "de"},
            {"text": "what is the weather", "id": 7},
        ),
        encoding="utf-8",
    )
    (tmp_path / "more.txt").write_text("  play some jazz  \n\nstop the music\n", encoding="utf-8")
    data = {
        "languages": ["en", "de", "fr"],
        "default_lang": "en",
        "unlabeled": [{"path": "*.jsonl"}, {"path": "more.txt", "lang": "fr"}],
    }
    summary, produced = _augment(tmp_path, write_config, data)

    traffic, more = tmp_path / "traffic.jsonl", tmp_path / "more.txt"
    expected = {
        "req-1": ("en", "switch off the oven"),  # the row's id; the language data.default_lang
        f"unlabeled:{traffic}:2": ("de", "schalte das Licht ein"),  # the row's language, id from file:line
        "7": ("en", "what is the weather"),
        f"unlabeled:{more}:1": ("fr", "play some jazz"),  # plain text: the entry's language
        f"unlabeled:{more}:3": ("fr", "stop the music"),
    }
    assert {i: (r["lang"][0], r["text"][0]) for i, r in produced.items()} == expected
    for row in produced.values():
        lang, text = row["lang"][0], row["text"][0]
        assert row["augmented"] == [1] and row["aug_method"] == ["unlabeled"] and row["source"] == ["unlabeled"]
        assert "intent" not in row and "slot_tags" not in row
        assert row["tokens"] == words(text)
        assert row["group_id"][0].startswith(f"unlabeled:{lang}:") and len(row["group_id"][0].split(":")[2]) == 16
    # Augmentation is off, yet the unlabelled rows flow: they are data.
    assert summary["emitted"] == 5 and set(summary["by_method"]) == {"unlabeled"}
    assert summary["unlabeled"]["rows_in"] == 5 == summary["unlabeled"]["emitted"]
    assert summary["unlabeled"]["blank_lines"] == 1


def test_texts_of_eval_and_test_are_never_emitted_and_are_counted(write_config, tmp_path):
    (tmp_path / "a.txt").write_text(
        "Dim  the HALLWAY lamp\nOPEN the garage \nturn on the Kitchen light\nplay jazz\nnew text\n", encoding="utf-8"
    )
    (tmp_path / "b.jsonl").write_text(_jsonl({"text": "PLAY jazz"}, {"text": "dim the hallway lamp"}), encoding="utf-8")
    summary, produced = _augment(tmp_path, write_config, {"unlabeled": [{"path": "a.txt"}, {"path": "b.jsonl"}]})

    assert sorted(r["text"][0].casefold() for r in produced.values()) == ["new text", "play jazz"]
    unlabeled = summary["unlabeled"]
    assert unlabeled["dropped"] == {"duplicate_candidate": 1, "equals_eval_or_test_text": 3, "equals_train_text": 1}
    assert unlabeled["emitted"] == 2 and unlabeled["rows_in"] == 7 == _accounted(unlabeled)
    # One of the two "play jazz" rows is kept, the same one every time (the smaller id).
    assert [r["id"][0] for r in produced.values() if r["text"][0].casefold() == "play jazz"] == [
        f"unlabeled:{tmp_path / 'a.txt'}:4"
    ]


BAD_JSONL = [
    ("{not json", "malformed_json"),
    ('["a", "list"]', "malformed_json"),
    ('{"lang": "en"}', "empty_text"),
    ('{"text": 5}', "bad_field_type"),
    ('{"text": "hello there", "id": 5.5}', "bad_field_type"),
    ('{"text": "hello there", "lang": ["en"]}', "bad_field_type"),
    ('{"text": "lone \\ud800 surrogate"}', "bad_unicode"),
    ('{"text": "a nul \\u0000 inside"}', "control_character"),
    ('{"text": "hello there", "id": "a\\nb"}', "control_character"),
    ('{"text": "hello there", "lang": "e n"}', "bad_lang"),
    ('{"text": "konnichiwa", "lang": "ja"}', "language_not_selected"),
    ('{"text": "one two three four five six"}', "too_many_tokens"),
]
BAD_TEXT = [(b"\xff\xfe not utf-8", "not_utf8"), (b"x" * 300, "line_too_long")]


def _bad_inputs(tmp_path):
    """Files mixing good, blank and bad lines; the dead letters they must give, by file:line."""
    jsonl = tmp_path / "bad.jsonl"
    lines = ['{"text": "turn the fan on"}', ""] + [line for line, _ in BAD_JSONL]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = tmp_path / "bad.txt"
    text.write_bytes(b"close the blinds\n" + b"\n".join(line for line, _ in BAD_TEXT) + b"\n")
    expected = {f"{jsonl}:{i}": code for i, (_, code) in enumerate(BAD_JSONL, start=3)}
    expected.update({f"{text}:{i}": code for i, (_, code) in enumerate(BAD_TEXT, start=2)})
    data = {"max_tokens": 5, "max_line_bytes": 200, "unlabeled": [{"path": "bad.*"}]}
    return data, expected


def test_bad_rows_are_dead_lettered_with_reasons_and_every_row_is_accounted_for(write_config, tmp_path):
    data, expected = _bad_inputs(tmp_path)
    summary, produced = _augment(tmp_path, write_config, {**data, "max_dead_letter_ratio": 1.0})

    dead = read_dead_letters(tmp_path / "aug")
    assert {d["location"]: d["code"] for d in dead} == expected
    assert all(d["stage"] == "unlabeled" and d["reason"] and d["row"] for d in dead)
    assert sorted(r["text"][0] for r in produced.values()) == ["close the blinds", "turn the fan on"]
    unlabeled = summary["unlabeled"]
    assert unlabeled["rows_in"] == len(expected) + 2 == _accounted(unlabeled)
    assert unlabeled["dead_lettered"] == len(expected) == summary["dead_lettered"]
    assert unlabeled["blank_lines"] == 1 and unlabeled["rows_not_selected"] == 1
    assert sum(unlabeled["dead_letter_reasons"].values()) == len(expected)


def test_too_many_dead_letters_fail_the_job_and_publish_why(write_config, tmp_path, capsys):
    data, expected = _bad_inputs(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        _augment(tmp_path, write_config, data)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: data.unlabeled: 13 of 15 rows dead-lettered (") and "\n" not in error
    assert "data.max_dead_letter_ratio=5.0%" in error
    summary = json.loads((tmp_path / "aug" / "summary.json").read_text())
    assert summary["status"] == "failed" and not (tmp_path / "aug" / "Split-train").exists()
    assert len(read_dead_letters(tmp_path / "aug")) == len(expected)


def test_same_inputs_and_seed_give_the_same_rows(write_config, tmp_path):
    (tmp_path / "traffic.txt").write_text("switch off the oven\nplay some jazz\nplay some jazz\n", encoding="utf-8")
    (tmp_path / "traffic.jsonl").write_text(_jsonl({"text": "play some jazz", "id": "x"}), encoding="utf-8")
    data = {"unlabeled": [{"path": "traffic.*"}]}
    augmentation = {"min_train_rows": 0, "word_dropout": 2.0, "word_swap": 1.0, "char_distortion": 1.0}
    first, rows = _augment(tmp_path, write_config, data, augmentation, out="first")
    second, again = _augment(tmp_path, write_config, data, augmentation, out="second")
    assert rows == again and first["by_method"] == second["by_method"] and first["unlabeled"] == second["unlabeled"]
    assert first["by_method"]["unlabeled"]["emitted"] == 2 and len(first["by_method"]) > 1


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"path": "nothing-*.txt"}, "data.unlabeled[0].path: no file matches 'nothing-*.txt'"),
        ({"path": "traffic.txt", "lang": "ja"}, "data.unlabeled[0].lang: 'ja' is not in data.languages (en, de)"),
    ],
)
def test_config_errors_exit_2_naming_the_key(write_config, tmp_path, capsys, entry, message):
    (tmp_path / "traffic.txt").write_text("switch off the oven\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        _augment(tmp_path, write_config, {"languages": ["en", "de"], "unlabeled": [entry]})
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"config error: {message}\n"


def test_a_folder_is_refused_before_any_work(write_config, tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        _augment(tmp_path, write_config, {"unlabeled": [{"path": "log*"}]})
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: data.unlabeled[0].path: ")
    assert not (tmp_path / "aug").exists()


def test_teacher_inference_gives_unlabelled_rows_teacher_logits(write_config, tmp_path):
    (tmp_path / "traffic.txt").write_text("turn off the light\n", encoding="utf-8")
    _, produced = _augment(tmp_path, write_config, {"unlabeled": [{"path": "traffic.txt"}]})
    intents, tags = ["dim", "on", "open"], ["O", "B-area", "I-area"]
    base = make_tiny_base(str(tmp_path / "base"), ["turn on the light", "open the garage"], vocab_size=60)
    teacher = str(tmp_path / "teacher")
    JointTeacher.from_base(base, intents, tags).save_pretrained(teacher)
    load_tokenizer(base).save_pretrained(teacher)

    summary = teacher_inference.build(
        beam_test_pipeline(),
        TeacherInferenceConfig(min_batch_size=1, max_batch_size=4, precision="fp32"),
        str(tmp_path / "ds"),
        str(tmp_path / "aug"),
        teacher,
        str(tmp_path / "soft"),
    )
    assert summary["rows_in"] == len(DATASET) + 1 == summary["rows_out"]
    train = {r["id"][0]: r for r in read_dataset_rows(tmp_path / "soft", ("train",))}
    (row_id,) = produced
    row = train[row_id]
    assert row["augmented"] == [1] and row["aug_method"] == ["unlabeled"] and "intent" not in row
    assert len(row["teacher_intent_logits"]) == len(intents)
    assert len(row["teacher_slot_logits"]) == len(words("turn off the light")) * len(tags)
    assert row["teacher_intent"][0] in intents and len(row["teacher_slot_tags"]) == 4
