"""Issue 16: bad input never crashes a job, is never published as data, and never costs the
previous output. Odd rows of every field of every format are dead letters with a reason code;
inputs that are not data are one-line errors; --overwrite replaces only at publish time;
teacher inference checks its folders before Beam starts. Random malformed rows (fixed seeds)
go through each reader and through the job."""

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from collections import Counter

import pytest
import tensorflow_data_validation as tfdv
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

import schemas
from beam_jobs import build_dataset, teacher_inference
from beam_jobs.config import DataConfig
from beam_jobs.dataset import rows as rows_module
from beam_jobs.dataset.readers import read_line
from beam_jobs.dataset.rows import RowError
from beam_jobs.outputs import SUMMARY_FILE, StagedOutput, UsageError, write_text
from teacher.config import TeacherInferenceConfig
from tests.conftest import (
    BEAM_ARGS,
    FIXTURES,
    REPO,
    beam_test_pipeline,
    example_row,
    read_dataset_rows,
    read_dead_letters,
    write_examples,
)
from tokenization import words

BOM = "\ufeff".encode()
DROP = object()  # a field left out of a JSONL row
KNOWN_CODES = {
    "line_too_long", "not_utf8", "malformed_json", "malformed_tsv", "bad_field_type", "bad_unicode",
    "control_character", "empty_text", "missing_intent", "missing_lang", "bad_lang", "language_not_selected",
    "too_many_tokens", "span_outside_text", "bad_slot", "bad_slot_name", "overlapping_spans", "span_splits_token",
    "tag_count_mismatch", "bad_token", "bad_tag", "text_token_mismatch",
}  # fmt: skip
NOT_IN_LABELS = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


# --------------------------------------------------------------------------- the row rules


def assert_row_rules(row):
    """What a published row must be, checked independently of the job's code: one value per
    scalar feature, the project's tokens of its text, one well-formed BIO tag per token, and
    printable labels (intent, language, slot names, ids)."""
    if not isinstance(row, dict):
        row = {k: v if isinstance(v, list) else [v] for k, v in row.features().items()}
    for name in ("id", "lang", "text", "intent", "group_id", "source"):
        assert len(row[name]) == 1 and isinstance(row[name][0], str), (name, row)
    text, tokens, tags = row["text"][0], row["tokens"], row["slot_tags"]
    assert 1 <= len(tokens) == len(tags) <= 64
    assert tokens == words(text)
    text.encode("utf-8")
    assert not [ch for ch in text if unicodedata.category(ch) == "Cc" and not ch.isspace()]
    previous = "O"
    slot_names = []
    for tag in tags:
        assert tag == "O" or re.fullmatch(r"[BI]-\S+", tag), tag
        if tag.startswith("I-"):
            assert previous != "O" and previous[2:] == tag[2:], tags
        if tag != "O":
            slot_names.append(tag[2:])
        previous = tag
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", row["lang"][0])
    for label in [row["intent"][0], row["id"][0], row["group_id"][0], *slot_names]:
        assert label.strip() and not [ch for ch in label if unicodedata.category(ch) in NOT_IN_LABELS], label


def _config(source, **kw):
    return DataConfig(source=source, paths=["unused"], **kw)


def _code(raw, location, data):
    """The reason code of one line (None: a row, which must obey the rules; "skip": not a row)."""
    try:
        row = read_line(raw, location, data)
    except RowError as exc:
        return exc.code
    if row is None:
        return "skip"
    assert_row_rules(row)
    return None


# --------------------------------------------------------------------------- every field of every format

VALID_JSONL = {
    "text": "turn on the kitchen light",
    "intent": "on",
    "lang": "en",
    "slots": [{"start": 12, "end": 19, "slot": "room"}],
}


def jsonl(**fields):
    row = {**VALID_JSONL, **fields}
    return json.dumps({k: v for k, v in row.items() if v is not DROP}).encode()


def slot(**fields):
    return [{**VALID_JSONL["slots"][0], **fields}]


BIO = {"tokens": ["play", "jazz"], "slot_tags": ["O", "B-genre"], "intent": "play"}

JSONL_CASES = [
    # text
    (jsonl(text=5), "bad_field_type"),
    (jsonl(text=["turn on"]), "bad_field_type"),
    (jsonl(text=None, slots=DROP), "empty_text"),
    (jsonl(text="\ud800 on", slots=DROP), "bad_unicode"),
    (jsonl(text="turn\x00 on", slots=DROP), "control_character"),
    (jsonl(text="turn\x7f on", slots=DROP), "control_character"),
    (jsonl(text="turn on\nthe\u2028light", slots=DROP), None),  # line breaks in text are spaces
    # intent
    (jsonl(intent=5), "bad_field_type"),
    (jsonl(intent=["on"]), "bad_field_type"),
    (jsonl(intent=True), "bad_field_type"),
    (jsonl(intent={"name": "on"}), "bad_field_type"),
    (jsonl(intent=None), "missing_intent"),
    (jsonl(intent=DROP), "missing_intent"),
    (jsonl(intent="  "), "missing_intent"),
    (jsonl(intent="Turn\nOn"), "control_character"),
    (jsonl(intent="on\t"), "control_character"),
    (jsonl(intent="o\u200bn"), "control_character"),
    (jsonl(intent="on\u2028"), "control_character"),
    (jsonl(intent="\udc00"), "bad_unicode"),
    (jsonl(intent="turn on"), None),
    # lang
    (jsonl(lang=["en"]), "bad_field_type"),
    (jsonl(lang=5), "bad_field_type"),
    (jsonl(lang=False), "bad_field_type"),
    (jsonl(lang="en\n"), "control_character"),
    (jsonl(lang="e n"), "bad_lang"),
    (jsonl(lang="en.US"), "bad_lang"),
    (jsonl(lang="\ud800"), "bad_unicode"),
    (jsonl(lang=None), None),
    (jsonl(lang=""), None),
    # group_id and id: a string or an integer
    (jsonl(group_id=5), None),
    (jsonl(group_id=5.5), "bad_field_type"),
    (jsonl(group_id=[1]), "bad_field_type"),
    (jsonl(group_id=True), "bad_field_type"),
    (jsonl(group_id="g\n1"), "control_character"),
    (jsonl(group_id="\ud800"), "bad_unicode"),
    (jsonl(id=7), None),
    (jsonl(id={"n": 7}), "bad_field_type"),
    (jsonl(id="a\tb"), "control_character"),
    # slots
    (jsonl(slots=5), "bad_field_type"),
    (jsonl(slots="room"), "bad_field_type"),
    (jsonl(slots={"start": 12}), "bad_field_type"),
    (jsonl(slots=[5]), "bad_field_type"),
    (jsonl(slots=None), None),
    (jsonl(slots=slot(start="12")), "bad_field_type"),
    (jsonl(slots=slot(start=None)), "bad_field_type"),
    (jsonl(slots=slot(start=True)), "bad_field_type"),
    (jsonl(slots=slot(end=19.0)), "bad_field_type"),
    (jsonl(slots=slot(end=float("inf"))), "bad_field_type"),
    (jsonl(slots=slot(slot=5)), "bad_field_type"),
    (jsonl(slots=slot(slot=None)), "bad_field_type"),
    (jsonl(slots=slot(slot="ro\nom")), "control_character"),
    (jsonl(slots=slot(slot="\ud800")), "bad_unicode"),
    (jsonl(slots=slot(slot="")), "bad_slot_name"),
    (jsonl(slots=slot(slot="living room")), "bad_slot_name"),
    (jsonl(slots=slot(start=-1)), "span_outside_text"),
    (jsonl(slots=[{"start": 12, "slot": "room"}]), "bad_slot"),
    # tokens + slot_tags
    (json.dumps({**BIO, "tokens": 5}).encode(), "bad_field_type"),
    (json.dumps({**BIO, "tokens": ["play", 5]}).encode(), "bad_field_type"),
    (json.dumps({**BIO, "slot_tags": "O"}).encode(), "bad_field_type"),
    (json.dumps({**BIO, "slot_tags": [None, "O"]}).encode(), "bad_field_type"),
    (json.dumps({"tokens": ["play"], "intent": "play"}).encode(), "bad_field_type"),
    (json.dumps({**BIO, "tokens": ["pl\x00ay", "jazz"]}).encode(), "control_character"),
    (json.dumps({**BIO, "tokens": ["\ud800", "jazz"]}).encode(), "bad_unicode"),
    (json.dumps({**BIO, "slot_tags": ["O", "B-gen\nre"]}).encode(), "control_character"),
    (json.dumps({**BIO, "text": 5}).encode(), "bad_field_type"),
    (json.dumps({**BIO, "text": "play  jazz"}).encode(), None),
    # whole lines
    (b"[1, 2]", "malformed_json"),
    (b'"turn on"', "malformed_json"),
    (b"[" * 5000, "malformed_json"),
    (b'{"text": ' + b"1" * 5000 + b"}", "malformed_json"),
    (b'{"text": "caf\xed\xa0\x80", "intent": "on"}', "not_utf8"),
    (BOM + jsonl(), None),
    (BOM + BOM + jsonl(), "malformed_json"),
    (BOM + b"\r", "skip"),
]

MTOP_VALID = ["1", "IN:GET_WEATHER", "11:18:SL:LOCATION", "weather in seattle", "weather", "en_XX", "[IN:GET_WEATHER ]"]


def mtop(**cols):
    names = ["id", "intent", "slots", "utterance", "domain", "locale", "decoupled"]
    return "\t".join(cols.get(n, v) for n, v in zip(names, MTOP_VALID)).encode()


MTOP_CASES = [
    (mtop(), None),
    (BOM + mtop(), None),
    (mtop(id=""), None),
    (mtop(intent="IN:"), "missing_intent"),
    (mtop(intent="IN:GET\x0bWEATHER"), "control_character"),
    (mtop(intent="IN:GET\u2028WEATHER"), "control_character"),
    (mtop(locale="e n_US"), "bad_lang"),
    (mtop(locale="\x01_XX"), "control_character"),
    (mtop(locale=""), None),
    (mtop(slots="11:18:SL:"), "bad_slot_name"),
    (mtop(slots="11:18:SL:LOC\x07"), "control_character"),
    (mtop(slots="a:18:SL:LOCATION"), "malformed_tsv"),
    (mtop(slots="11"), "malformed_tsv"),
    (mtop(slots="11:99:SL:LOCATION"), "span_outside_text"),
    (mtop(slots="12:18:SL:LOCATION"), "span_splits_token"),
    (mtop(utterance=""), "empty_text"),
    (mtop(utterance="weather in\x00seattle", slots=""), "control_character"),
    (b"1\tIN:X\t\tonly four", "malformed_tsv"),
    ("1\tIN:X\t\tcaf\udcff\td\ten_XX\tx".encode("utf-8", "surrogateescape"), "not_utf8"),
]

ATIS_HEADER = b"id\tutterance\tslot_labels\tintent"
MULTIATIS_CASES = [
    (ATIS_HEADER, "skip"),
    (BOM + ATIS_HEADER, "skip"),
    (b"1\tfly to boston\tO O B-city\tatis_flight", None),
    (BOM + b"1\tfly to boston\tO O B-city\tatis_flight", None),
    (b"1\tfly to boston\tO O B-city\tatis\x7fflight", "control_character"),
    (b"1\tfly to boston\tO O B-city\t", "missing_intent"),
    (b"1\tfly to boston\tO O\tatis_flight", "tag_count_mismatch"),
    (b"1\tfly to boston\tO O B-\tatis_flight", "bad_tag"),
    (b"1\tfly to boston\tO O B-ci\x07ty\tatis_flight", "control_character"),
    (b"1\tfly \x00to boston\tO O B-city\tatis_flight", "control_character"),
    (b"1\tfly to boston\tatis_flight", "malformed_tsv"),
    (b"1\tfly to boston\tO O B-city\tatis_flight\textra", "malformed_tsv"),
]

CASES = {"jsonl": JSONL_CASES, "mtop": MTOP_CASES, "multiatis": MULTIATIS_CASES}
FILE_NAMES = {"jsonl": "rows.jsonl", "mtop": "rows.txt", "multiatis": "train_EN.tsv"}


@pytest.mark.parametrize(
    "source, raw, code", [(source, raw, code) for source, cases in CASES.items() for raw, code in cases]
)
def test_every_field_of_every_format_is_checked(source, raw, code):
    assert _code(raw, f"/data/{FILE_NAMES[source]}:2", _config(source)) == code


def test_group_and_row_ids_may_be_integers():
    row = read_line(jsonl(group_id=5, id=7), "/data/rows.jsonl:1", _config("jsonl"))
    assert (row.group_id, row.id) == ("5", "7")


def test_a_wrong_type_says_what_it_got_not_that_the_field_is_missing():
    for raw, got in ((jsonl(intent=5), "an integer 5"), (jsonl(intent=["on"]), "an array ['on']")):
        with pytest.raises(RowError, match=f"intent must be a string, got {re.escape(got)}"):
            read_line(raw, "/data/rows.jsonl:1", _config("jsonl"))


@pytest.mark.parametrize(
    "languages, lang, code",
    [(["en", "de"], "fr", "language_not_selected"), (["en", "de"], "de", None), ([], "fr", None),
     (["de"], None, "language_not_selected")],
)  # fmt: skip
def test_rows_of_languages_left_out_are_not_selected(languages, lang, code):
    data = _config("jsonl", languages=languages)
    assert _code(jsonl(lang=lang), "/data/rows.jsonl:1", data) == code


def test_an_unexpected_exception_in_one_row_is_a_row_error(monkeypatch):
    def explode(text):
        raise KeyError("tokenizer exploded")

    monkeypatch.setattr(rows_module, "tokenize", explode)
    with pytest.raises(RowError) as err:
        read_line(jsonl(), "/data/rows.jsonl:1", _config("jsonl"))
    assert err.value.code == "row_error" and "KeyError" in str(err.value) and "tokenizer exploded" in str(err.value)


# --------------------------------------------------------------------------- through the job


def _write(path, lines, end=b"\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + end for line in lines))
    return str(path)


def _run(write_config, tmp_path, data, out="out", extra=(), pipeline=None):
    config = write_config({"data": data}, f"{out}.yaml")
    return build_dataset.run(
        ["--config", config, "--output_dir", str(tmp_path / out), *extra],
        test_pipeline=pipeline or beam_test_pipeline(),
    )


def _fails(capsys, exit_code, job, *args, **kwargs):
    """Run a CLI job that must fail; returns its one-line error."""
    with pytest.raises(SystemExit) as exit_info:
        job(*args, **kwargs)
    assert exit_info.value.code == exit_code
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error, error
    return error


def _counters(pipeline):
    found = Counter()
    query = pipeline.result.metrics().query(MetricsFilter().with_namespace(build_dataset.METRICS))
    for result in query["counters"]:
        found[result.key.metric.name] += result.committed
    return found


def _staging(folder):
    return [n for n in os.listdir(folder) if n.startswith(".staging-")]


@pytest.mark.parametrize("source", sorted(CASES))
def test_odd_rows_are_counted_dead_letters_and_never_fail_the_job(write_config, tmp_path, source):
    lines = [raw for raw, _ in CASES[source]]
    path = _write(tmp_path / "in" / FILE_NAMES[source], lines)
    pipeline = beam_test_pipeline()
    summary = _run(write_config, tmp_path, {"source": source, "paths": [path], "max_dead_letter_ratio": 1.0},
                   pipeline=pipeline)  # fmt: skip
    expected = Counter(code for _, code in CASES[source] if code not in (None, "skip"))
    assert summary["status"] == "ok"
    assert summary["dead_letter_reasons"] == dict(expected)
    assert summary["rows_out"] == sum(code is None for _, code in CASES[source])
    assert summary["rows_in"] == summary["rows_out"] + summary["dead_lettered"]
    counters = _counters(pipeline)
    assert counters["dead_letters"] == summary["dead_lettered"] and counters["rows"] == summary["rows_out"]
    assert {code: counters[f"dead_letters.{code}"] for code in expected} == dict(expected)
    out = tmp_path / "out"
    for row in read_dataset_rows(out):
        assert_row_rules(row)
    dead = read_dead_letters(out)
    assert len(dead) == summary["dead_lettered"]
    assert all(d["location"].startswith(path + ":") and d["reason"] for d in dead)
    assert not _staging(out)


def test_an_exception_in_one_row_does_not_fail_the_job(write_config, tmp_path, monkeypatch):
    real = rows_module.tokenize

    def tokenize(text):
        if "boom" in text:
            raise ZeroDivisionError("odd row")
        return real(text)

    monkeypatch.setattr(rows_module, "tokenize", tokenize)
    path = _write(tmp_path / "rows.jsonl", [jsonl(), jsonl(text="boom boom", slots=DROP)])
    summary = _run(write_config, tmp_path, {"source": "jsonl", "paths": [path], "max_dead_letter_ratio": 0.5})
    assert summary["status"] == "ok" and summary["dead_letter_reasons"] == {"row_error": 1}
    [dead] = read_dead_letters(tmp_path / "out")
    assert dead["reason"] == "ZeroDivisionError: odd row" and dead["location"] == f"{path}:2"


def test_languages_left_out_are_dead_lettered_but_not_counted_as_bad(write_config, tmp_path, capsys):
    lines = [jsonl(lang=lang, id=i) for i, lang in enumerate(["en", "de", "fr", "fr", "ja"])]
    path = _write(tmp_path / "rows.jsonl", lines)
    data = {"source": "jsonl", "paths": [path], "languages": ["en", "de"], "max_dead_letter_ratio": 0.0}
    summary = _run(write_config, tmp_path, data)
    assert summary["status"] == "ok" and summary["languages"] == ["de", "en"]
    assert summary["dead_letter_reasons"] == {"language_not_selected": 3}
    assert summary["rows_not_selected"] == 3 and summary["dead_letter_ratio"] == 0.0
    every = _run(write_config, tmp_path, {**data, "languages": []}, out="every")
    assert every["languages"] == ["de", "en", "fr", "ja"] and every["dead_lettered"] == 0
    error = _fails(capsys, 1, _run, write_config, tmp_path, {**data, "languages": ["hi"]}, out="none")
    assert "no row is in a language of data.languages (hi)" in error and "data.languages: []" in error


@pytest.mark.parametrize(
    "source, content",
    [("jsonl", b""), ("jsonl", b"\n  \n\r\n"), ("jsonl", BOM + b"\n"), ("multiatis", BOM + ATIS_HEADER + b"\n"),
     ("mtop", b"\n")],
)  # fmt: skip
def test_an_input_without_rows_fails_naming_its_files(write_config, tmp_path, capsys, source, content):
    path = tmp_path / FILE_NAMES[source]
    path.write_bytes(content)
    error = _fails(capsys, 1, _run, write_config, tmp_path, {"source": source, "paths": [str(path)]})
    assert "the input has no rows" in error and f"data.paths[0]={path}" in error
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["dead_letter", SUMMARY_FILE]
    assert json.loads((out / SUMMARY_FILE).read_text())["status"] == "failed"


def test_an_empty_given_split_fails_naming_the_split(write_config, tmp_path, capsys):
    paths = {s: [_write(tmp_path / f"{s}.jsonl", [jsonl(id=s)])] for s in ("train", "test")}
    paths["eval"] = [_write(tmp_path / "eval.jsonl", [jsonl(intent=5)])]  # its only row is dead-lettered
    error = _fails(capsys, 1, _run, write_config, tmp_path, {"source": "jsonl", "paths": paths,
                                                             "max_dead_letter_ratio": 1.0})  # fmt: skip
    assert f"data.paths.eval gave no rows ({tmp_path / 'eval.jsonl'})" in error
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith("Split-")]


@pytest.mark.parametrize("mapping", [False, True])
def test_a_folder_as_input_is_refused_before_beam_starts(write_config, tmp_path, capsys, mapping):
    folder = tmp_path / "data"
    _write(folder / "rows.jsonl", [jsonl()])
    paths = {"train": [str(folder / "rows.jsonl")], "eval": [str(folder)], "test": [str(folder / "rows.jsonl")]}
    started = time.time()
    error = _fails(
        capsys, 2, _run, write_config, tmp_path, {"source": "jsonl", "paths": paths if mapping else [str(folder)]}
    )
    key = "data.paths.eval[0]" if mapping else "data.paths[0]"
    assert error == f"error: {key}: '{folder}' is a folder, not a file; give the files in it (e.g. '{folder}/*')"
    assert not (tmp_path / "out").exists() and time.time() - started < 10


@pytest.mark.parametrize("where", ["file", "file/below"])
def test_an_output_dir_that_is_a_file_is_refused(write_config, tmp_path, capsys, where):
    (tmp_path / "file").write_text("not a folder")
    config = write_config({"data": {"source": "jsonl", "paths": [str(FIXTURES / "sample.jsonl")]}})
    out = str(tmp_path / where)
    args = ["--config", config, "--output_dir", out]
    error = _fails(capsys, 2, build_dataset.run, args, test_pipeline=beam_test_pipeline())
    assert error == f"error: --output_dir {out}: {tmp_path / 'file'} is a file, not a folder"
    assert (tmp_path / "file").read_text() == "not a folder"


@pytest.mark.parametrize("source", sorted(CASES))
def test_a_byte_order_mark_does_not_cost_the_first_row(write_config, tmp_path, source):
    atis = [ATIS_HEADER, b"1\tfly to boston\tO O B-city\tatis_flight", b"2\tfly home\tO O\tatis_flight"]
    valid = {"jsonl": [jsonl(id=1), jsonl(id=2)], "mtop": [mtop(id="1"), mtop(id="2")], "multiatis": atis}
    lines = valid[source]
    path = _write(tmp_path / FILE_NAMES[source], [BOM + lines[0], *lines[1:]], end=b"\r\n")
    summary = _run(write_config, tmp_path, {"source": source, "paths": [path], "max_dead_letter_ratio": 0.0})
    assert summary["rows_out"] == 2 and summary["dead_lettered"] == 0


# --------------------------------------------------------------------------- --overwrite and crashes


def _snapshot(folder):
    """Every file of an output folder (not of staging folders) with its bytes."""
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".staging-")]
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = open(path, "rb").read()
    return found


SAMPLE = {"source": "jsonl", "paths": [str(FIXTURES / "sample.jsonl")]}
FAILING = {"source": "jsonl", "paths": [str(FIXTURES / "bad_rows.jsonl")], "max_dead_letter_ratio": 0.1}


def test_a_failed_overwrite_keeps_the_previous_dataset(write_config, tmp_path, capsys):
    _run(write_config, tmp_path, SAMPLE)
    out = tmp_path / "out"
    before = _snapshot(out)
    error = _fails(capsys, 1, _run, write_config, tmp_path, FAILING, extra=["--overwrite"])
    assert f"see {out / 'failed' / 'dead_letter'}; the previous dataset in {out} is unchanged" in error
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if not k.startswith("failed/")} == before
    assert json.loads((out / "failed" / SUMMARY_FILE).read_text())["status"] == "failed"
    assert len(read_dead_letters(out / "failed")) == 7
    assert not _staging(out)

    # A second failure replaces the failure report only; a success removes it.
    _fails(capsys, 1, _run, write_config, tmp_path, FAILING, extra=["--overwrite"])
    assert {k: v for k, v in _snapshot(out).items() if not k.startswith("failed/")} == before
    summary = _run(write_config, tmp_path, {**FAILING, "max_dead_letter_ratio": 1.0}, extra=["--overwrite"])
    assert summary["rows_out"] == 3 and not (out / "failed").exists()
    assert json.loads((out / SUMMARY_FILE).read_text())["rows_out"] == 3


def test_a_failed_job_replaces_a_previous_failed_output(write_config, tmp_path, capsys):
    _fails(capsys, 1, _run, write_config, tmp_path, FAILING)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _fails(capsys, 1, _run, write_config, tmp_path, {"source": "jsonl", "paths": [str(empty)]}, extra=["--overwrite"])
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["dead_letter", SUMMARY_FILE]
    assert json.loads((out / SUMMARY_FILE).read_text())["rows_in"] == 0


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_crashed_run_staging_folder_is_removed_by_the_next_run(write_config, tmp_path):
    _run(write_config, tmp_path, SAMPLE)
    out = tmp_path / "out"
    before = _snapshot(out)
    stale = out / ".staging-0badc0de"
    (stale / "Split-train").mkdir(parents=True)
    (stale / "Split-train" / "data_tfrecord-00000-of-00001.gz").write_bytes(b"half written")
    (stale / "_owner.json").write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid()}))
    (out / ".staging-old-format").mkdir()  # an older run's, without an owner file
    (out / "notes.txt").write_text("mine")
    (out / ".staging_notes").write_text("not a staging folder")
    summary = _run(write_config, tmp_path, {**FAILING, "max_dead_letter_ratio": 1.0}, extra=["--overwrite"])
    assert summary["status"] == "ok" and not _staging(out)
    assert (out / "notes.txt").read_text() == "mine" and (out / ".staging_notes").exists()
    assert _snapshot(out) != before


def test_a_staging_folder_of_a_running_job_is_not_touched(tmp_path):
    out = tmp_path / "out"
    StagedOutput(str(out), [], overwrite=False).publish({"status": "ok"}, [])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = out / ".staging-1ive"
        live.mkdir()
        (live / "_owner.json").write_text(json.dumps({"host": socket.gethostname(), "pid": sleeper.pid}))
        with pytest.raises(UsageError, match=f"belongs to a job still running \\(pid {sleeper.pid}\\)"):
            StagedOutput(str(out), [], overwrite=True)
        assert live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    StagedOutput(str(out), [], overwrite=True).publish({"status": "again"}, [])
    assert not live.exists()


def _old_output(out):
    first = StagedOutput(str(out), ["Split-train"], overwrite=False)
    write_text(first.path("Split-train", "rows.txt"), "old\n")
    first.publish({"status": "ok", "run": "old"}, ["Split-train"])
    return _snapshot(out)


@pytest.mark.parametrize("moved_in", [[], ["Split-train"]])
def test_an_output_a_crash_interrupted_mid_replace_is_put_back(tmp_path, moved_in):
    """Simulate a kill inside publish: the old output partly or wholly moved into the staging
    folder, and (after the marker) some of the new output moved in; the next run restores."""
    out = tmp_path / "out"
    before = _old_output(out)
    crashed = StagedOutput(str(out), ["Split-train"], overwrite=True)
    write_text(crashed.path("Split-train", "rows.txt"), "new\n")
    previous = os.path.join(crashed.staging, "_previous")
    os.makedirs(previous)
    os.rename(out / SUMMARY_FILE, os.path.join(previous, SUMMARY_FILE))
    if moved_in:
        os.rename(out / "Split-train", os.path.join(previous, "Split-train"))
        write_text(crashed.path("_moving_in.json"), json.dumps({"names": ["Split-train", SUMMARY_FILE]}))
        os.rename(crashed.path("Split-train"), out / "Split-train")
    StagedOutput(str(out), ["Split-train"], overwrite=True).discard()
    assert _snapshot(out) == before and not _staging(out)


def test_a_failing_rename_during_publish_puts_the_old_output_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = _old_output(out)
    second = StagedOutput(str(out), ["Split-train"], overwrite=True)
    write_text(second.path("Split-train", "rows.txt"), "new\n")
    rename = FileSystems.rename

    def failing(sources, targets):
        if sources == [second.path(SUMMARY_FILE)]:  # the new summary moving in, last
            raise OSError("disk full")
        return rename(sources, targets)

    monkeypatch.setattr(FileSystems, "rename", staticmethod(failing))
    with pytest.raises(OSError, match="disk full"):
        second.publish({"status": "ok", "run": "new"}, ["Split-train"])
    monkeypatch.undo()
    assert _snapshot(out) == before


def test_a_job_that_raises_removes_its_staging_and_keeps_the_output(write_config, tmp_path, monkeypatch):
    _run(write_config, tmp_path, SAMPLE)
    out = tmp_path / "out"
    before = _snapshot(out)

    def crash(*args):
        raise MemoryError("worker died")

    monkeypatch.setattr(build_dataset, "_run_pipeline", crash)
    with pytest.raises(MemoryError):
        build_dataset.build(beam_test_pipeline(), DataConfig(**SAMPLE), 0, str(out), overwrite=True)
    assert _snapshot(out) == before and not _staging(out)


def test_a_killed_job_keeps_the_previous_output_and_the_next_run_cleans_up(write_config, tmp_path):
    """SIGTERM a real `python -m beam_jobs.build_dataset --overwrite` while Beam runs."""
    _run(write_config, tmp_path, SAMPLE)
    out = tmp_path / "out"
    before = _snapshot(out)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"text": f"turn on light {i}", "intent": "on"}) + "\n" for i in range(30000)))
    config = write_config({"data": {"source": "jsonl", "paths": [str(big)]}}, "big.yaml")
    log = tmp_path / "killed.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "beam_jobs.build_dataset", "--config", config, "--output_dir", str(out), "--overwrite"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            writing = [p for p in out.glob(".staging-*") if [n for n in os.listdir(p) if n != "_owner.json"]]
            if writing:
                break
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()[-2000:]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert _snapshot(out) == before and _staging(out)  # the old dataset, and the killed run's staging
    summary = _run(write_config, tmp_path, {**FAILING, "max_dead_letter_ratio": 1.0}, extra=["--overwrite"])
    assert summary["rows_out"] == 3 and not _staging(out)


# --------------------------------------------------------------------------- teacher inference inputs


@pytest.fixture
def teacher_inputs(tmp_path):
    """A dataset, an augmented folder and a folder that passes the teacher folder check."""
    dataset, augmented, teacher = tmp_path / "ds", tmp_path / "aug", tmp_path / "teacher"
    rows = [example_row(i, "turn on the light", "on", ["O"] * 4, s) for i, s in enumerate(("train", "eval", "test"))]
    write_examples(dataset, rows)
    write_examples(augmented, rows[:1])
    teacher.mkdir()
    (teacher / "config.json").write_text("{}")
    (teacher / "model.safetensors").write_bytes(b"")
    return {"dataset": str(dataset), "augmented": str(augmented), "teacher": str(teacher)}


@pytest.mark.parametrize(
    "case, flag",
    [("teacher_missing", "--teacher_dir"), ("teacher_empty", "--teacher_dir"), ("dataset_missing", "--dataset_dir"),
     ("dataset_split_missing", "--dataset_dir"), ("augmented_missing", "--augmented_dir"),
     ("augmented_split_empty", "--augmented_dir")],
)  # fmt: skip
def test_teacher_inference_refuses_missing_inputs_in_one_line(
    write_config, tmp_path, capsys, teacher_inputs, case, flag
):
    paths = dict(teacher_inputs)
    if case == "teacher_missing":
        paths["teacher"] = str(tmp_path / "no_teacher")
    elif case == "teacher_empty":
        paths["teacher"] = str(tmp_path / "empty")
        os.mkdir(paths["teacher"])
    elif case == "dataset_missing":
        paths["dataset"] = str(tmp_path / "no_dataset")
    elif case == "dataset_split_missing":
        for name in os.listdir(os.path.join(paths["dataset"], "Split-eval")):
            os.remove(os.path.join(paths["dataset"], "Split-eval", name))
    elif case == "augmented_missing":
        paths["augmented"] = str(tmp_path / "no_augmented")
    else:
        for name in os.listdir(os.path.join(paths["augmented"], "Split-train")):
            os.remove(os.path.join(paths["augmented"], "Split-train", name))
    started = time.time()
    args = ["--config", write_config({}), "--dataset_dir", paths["dataset"], "--augmented_dir", paths["augmented"],
            "--teacher_dir", paths["teacher"], "--output_dir", str(tmp_path / "soft")]  # fmt: skip
    error = _fails(capsys, 2, teacher_inference.run, args, test_pipeline=beam_test_pipeline())
    named = {"--teacher_dir": "teacher", "--dataset_dir": "dataset", "--augmented_dir": "augmented"}[flag]
    assert flag in error and paths[named] in error
    assert time.time() - started < 10 and not (tmp_path / "soft").exists()
    # The component calls build(): the same one-line UsageError reaches the execution's record.
    with pytest.raises(UsageError, match=re.escape(flag)):
        teacher_inference.build(
            beam_test_pipeline(), TeacherInferenceConfig(), paths["dataset"], paths["augmented"], paths["teacher"],
            str(tmp_path / "soft"),
        )  # fmt: skip


# --------------------------------------------------------------------------- random malformed rows

SPICE = ["\n", "\r", "\t", "\x00", "\x07", "\x0b", "\x1c", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\ufeff",
         "\u200b", "\u200d", "\ud800", "\udfff", "\ue000", "é", "ß", "ห", "\u0e49", "न", "\u094d", "中", "😀",
         "\u0301", "-", ":", ",", "{", "}", "[", '"', "\\", "IN:", "SL:", "B-", "I-", "O", " ", "  "]  # fmt: skip
WORDS = ["turn", "on", "the", "kitchen", "light", "wecker", "für", "morgen", "เปิดไฟ", "ห้องนอน", "play", "jazz", "7"]
LANGS = ["en", "de", "th", "fr"]  # fr is not in the selected languages
SELECTED = ["en", "de", "th"]


def rand_str(rng):
    return "".join(rng.choice(WORDS) if rng.random() < 0.4 else rng.choice(SPICE) for _ in range(rng.randint(0, 6)))


def rand_value(rng, depth=0):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randint(-5, 40)
    if kind == 1:
        return rng.choice([0.5, -0.0, float("inf"), float("nan"), 10**20, 12.0])
    if kind == 2:
        return rng.choice([True, False, None, "", [], {}])
    if kind == 3 and depth < 3:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == 4 and depth < 3:
        return {rand_str(rng): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rand_str(rng)


def _sentence(rng):
    """Words, their text and the character span of one of them."""
    ws = [rng.choice(WORDS) for _ in range(rng.randint(1, 8))]
    i = rng.randrange(len(ws))
    start = len(" ".join(ws[:i])) + (1 if i else 0)
    return ws, " ".join(ws), i, start, start + len(ws[i])


def _mangle(rng, data):
    """Sometimes: a byte order mark, a random byte inside, or random bytes instead."""
    r = rng.random()
    if r < 0.05:
        return BOM + data
    if r < 0.10:
        k = rng.randrange(len(data) + 1)
        return data[:k] + bytes([rng.randrange(256)]) + data[k:]
    if r < 0.13:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    return data


def jsonl_line(rng, n):
    ws, text, i, start, end = _sentence(rng)
    intent, name, lang = rng.choice(["on", "off", "play"]), rng.choice(["room", "time"]), rng.choice(LANGS)
    if rng.random() < 0.5:
        obj = {"text": text, "intent": intent, "lang": lang, "slots": [{"start": start, "end": end, "slot": name}]}
    else:
        obj = {"tokens": ws, "slot_tags": ["O"] * i + [f"B-{name}"] + ["O"] * (len(ws) - i - 1), "intent": intent,
               "lang": lang}  # fmt: skip
    if rng.random() < 0.5:
        obj["id"] = rng.choice([f"r{n}", n])
    if rng.random() < 0.3:
        obj["group_id"] = f"g{n % 7}"
    if rng.random() < 0.1:
        obj = rand_value(rng)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3]) if isinstance(obj, dict) else 0):
        target = obj
        slots = obj.get("slots")
        if isinstance(slots, list) and slots and isinstance(slots[0], dict) and rng.random() < 0.4:
            target = slots[0]
        key = rng.choice([*target, "text", "intent", "lang", "id", "group_id", "slots", "tokens", "slot_tags", "x"])
        if rng.random() < 0.15:
            target.pop(key, None)
        else:
            target[key] = rand_value(rng)
    line = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.05:
        line = line[: rng.randrange(len(line) + 1)]
    return _mangle(rng, line.encode("utf-8", "surrogatepass"))


def mtop_line(rng, n):
    ws, text, _, start, end = _sentence(rng)
    lang = rng.choice(LANGS)
    span = f"{start}:{end}:SL:{rng.choice(['ROOM', 'TIME'])}"
    cols = [str(n), f"IN:{rng.choice(['ON', 'OFF'])}", span, text, "home", f"{lang}_XX", "[IN:ON ]"]
    if rng.random() < 0.5:
        cols.append(json.dumps({"tokens": ws}))
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        k = rng.randrange(len(cols))
        cols[k] = rng.choice([rand_str(rng), "", "IN:", "SL:", "1:2:SL:x,3:4:SL:y", "-1:3:SL:a", f"{start}:{end}:SL:"])
    if rng.random() < 0.05:
        cols = cols[: rng.randrange(len(cols))]
    return _mangle(rng, "\t".join(cols).encode("utf-8", "surrogatepass"))


def multiatis_line(rng, n):
    ws, _, i, _, _ = _sentence(rng)
    tags = ["O"] * i + ["B-city"] + ["O"] * (len(ws) - i - 1)
    cols = [str(n), " ".join(ws), " ".join(tags), rng.choice(["atis_flight", "atis_airfare"])]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        k = rng.randrange(len(cols))
        cols[k] = rng.choice([rand_str(rng), "", "B-", "I-city O", " ".join(["O"] * len(ws)), "x\tb"])
    if rng.random() < 0.02:
        cols = ["id", "utterance", "slot_labels", "intent"]
    return _mangle(rng, "\t".join(cols).encode("utf-8", "surrogatepass"))


LINES = {"jsonl": jsonl_line, "mtop": mtop_line, "multiatis": multiatis_line}


def random_file(source, seed, n):
    rng = random.Random(seed)
    lines = [LINES[source](rng, i) for i in range(n)]
    if source == "multiatis":
        lines.insert(0, rng.choice([b"", BOM]) + ATIS_HEADER)
    return b"\n".join(lines) + rng.choice([b"", b"\n"])


def direct(content, path, data):
    """What the job must make of a file: its lines through `read_line` as the job numbers them."""
    rows, codes = [], Counter()
    pieces = content.split(b"\n")
    for number, raw in enumerate(pieces if pieces[-1] else pieces[:-1], start=1):
        try:
            row = read_line(raw, f"{path}:{number}", data)
        except RowError as exc:
            codes[exc.code] += 1
            continue
        if row is not None:
            rows.append(row)
    return rows, codes


def expected_rows_in(content, source):
    """Rows in a file by the README's rule: every line but blank ones (after a byte order mark)
    and the MultiATIS++ header."""
    n = 0
    for raw in content.split(b"\n"):
        try:
            line = raw.decode("utf-8").removeprefix("\ufeff").rstrip("\r")
        except UnicodeDecodeError:
            n += 1
            continue
        header = source == "multiatis" and line.split("\t") == ["id", "utterance", "slot_labels", "intent"]
        n += bool(line.strip()) and not header
    return n


@pytest.mark.parametrize("source", sorted(LINES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_malformed_lines_through_each_reader(source, seed):
    data = DataConfig(source=source, paths=["unused"], languages=SELECTED)
    content = random_file(source, seed, 2000)
    rows, codes = direct(content, f"/data/{FILE_NAMES[source]}", data)
    for row in rows:
        assert_row_rules(row)
        assert row.lang in SELECTED
    assert set(codes) <= KNOWN_CODES, set(codes) - KNOWN_CODES
    assert len(rows) + sum(codes.values()) == expected_rows_in(content, source)
    assert len(rows) > 100 and len(codes) > 5  # not vacuous: many rows pass, many reasons occur


@pytest.fixture(scope="module")
def random_jobs(tmp_path_factory):
    """One job per format on a random file of malformed and valid rows."""
    tmp = tmp_path_factory.mktemp("random")
    runs = {}
    for seed, source in enumerate(sorted(LINES), start=10):
        content = random_file(source, seed, 400)
        path = tmp / "in" / source / FILE_NAMES[source]
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        data = DataConfig(source=source, paths=[str(path)], languages=SELECTED, max_dead_letter_ratio=1.0)
        pipeline = beam_test_pipeline()
        out = tmp / "out" / source
        summary = build_dataset.build(pipeline, data, 0, str(out))
        runs[source] = {"summary": summary, "out": out, "counters": _counters(pipeline), "content": content,
                        "path": str(path), "data": data}  # fmt: skip
    return tmp, runs


@pytest.mark.parametrize("source", sorted(LINES))
def test_random_malformed_rows_through_the_job_are_accounted(random_jobs, source):
    run = random_jobs[1][source]
    summary, out = run["summary"], run["out"]
    rows, codes = direct(run["content"], run["path"], run["data"])
    published = read_dataset_rows(out)
    dead = read_dead_letters(out)
    assert summary["status"] == "ok"
    assert summary["rows_in"] == expected_rows_in(run["content"], source) == len(published) + len(dead)
    assert summary["rows_out"] == len(published) == run["counters"]["rows"] == len(rows) > 0
    assert summary["dead_lettered"] == len(dead) == run["counters"]["dead_letters"]
    assert Counter(d["code"] for d in dead) == codes == Counter(summary["dead_letter_reasons"])
    key = lambda r: (r["id"][0], r["text"][0], tuple(r["slot_tags"]))  # noqa: E731
    assert Counter(map(key, published)) == Counter(
        key({k: v if isinstance(v, list) else [v] for k, v in r.features().items()}) for r in rows
    )
    for row in published:
        assert_row_rules(row)
        assert row["lang"][0] in SELECTED
    assert not _staging(out)


def test_random_malformed_rows_published_match_the_schema(random_jobs):
    tmp, _ = random_jobs
    stats = tfdv.generate_statistics_from_tfrecord(
        str(tmp / "out" / "*" / "Split-*" / "*.gz"),
        output_path=str(tmp / "data_stats.tfrecord"),  # by default tfdv leaves it in a new /tmp folder
        pipeline_options=PipelineOptions(BEAM_ARGS),
    )
    assert stats.datasets[0].num_examples == sum(r["summary"]["rows_out"] for r in random_jobs[1].values())
    assert dict(tfdv.validate_statistics(stats, tfdv.load_schema_text(schemas.DATASET_SCHEMA)).anomaly_info) == {}
