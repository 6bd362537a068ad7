import glob
import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest
import tensorflow as tf
import yaml

from beam_jobs import build_dataset
from config_core import ConfigError
from pipeline.config import load_config
from tests.conftest import FIXTURES, REPO, beam_test_pipeline


def read_split(out, split):
    files = glob.glob(os.path.join(out, f"Split-{split}", "data_tfrecord-*.gz"))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        f = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append({k: [v.decode() for v in f[k].bytes_list.value] for k in f})
    return rows


def build(write_config, tmp_path, sections, name="out", extra=()):
    out = str(tmp_path / name)
    summary = build_dataset.run(
        ["--config", write_config(sections), "--output_dir", out, *extra], test_pipeline=beam_test_pipeline()
    )
    return out, summary


SMALL_HA = {"data": {"languages": ["en", "th", "hi"], "home_assistant": {"samples_per_template": 2}}}


def test_home_assistant_dataset_is_split_by_template_and_accounted(write_config, tmp_path):
    out, summary = build(write_config, tmp_path, SMALL_HA)
    rows = {s: read_split(out, s) for s in ("train", "eval", "test")}
    assert summary["status"] == "ok"
    assert summary["rows_in"] == summary["rows_out"] + summary["dead_lettered"]
    assert sum(len(r) for r in rows.values()) == summary["rows_out"]
    assert {s: len(r) for s, r in rows.items()} == summary["split_totals"]
    assert set(summary["languages"]) == {"en", "th", "hi"}
    assert min(summary["split_totals"].values()) > 0

    split_of_group, split_of_text = defaultdict(set), defaultdict(set)
    for split, split_rows in rows.items():
        for r in split_rows:
            split_of_group[r["group_id"][0]].add(split)
            split_of_text[(r["lang"][0], r["text"][0])].add(split)
            assert len(r["tokens"]) == len(r["slot_tags"]) > 0
    assert all(len(s) == 1 for s in split_of_group.values()), "a template leaked across splits"
    assert all(len(s) == 1 for s in split_of_text.values()), "a text leaked across splits"

    all_rows = [r for split_rows in rows.values() for r in split_rows]
    assert {r["intent"][0] for r in all_rows} == set(summary["intents"])
    assert json.load(open(os.path.join(out, "summary.json")))["rows_out"] == summary["rows_out"]
    assert not [p for p in os.listdir(out) if p.startswith(".staging")]


def test_a_small_language_gets_more_training_phrasings_and_eval_test_stay(write_config, tmp_path):
    # en has ~580 training templates, hi ~135: at 300 rows per language only hi is topped up.
    def config(rows):
        sampling = {"samples_per_template": 1, "train_rows_per_language": rows}
        return {"data": {"languages": ["en", "hi"], "home_assistant": sampling}}

    base, _ = build(write_config, tmp_path, config(0), "base")
    more, summary = build(write_config, tmp_path, config(300), "more")

    def texts_of(out):
        return {s: {(r["lang"][0], r["text"][0]) for r in read_split(out, s)} for s in ("train", "eval", "test")}

    texts = {base: texts_of(base), more: texts_of(more)}

    def count(out, lang):
        return sum(1 for text_lang, _ in texts[out]["train"] if text_lang == lang)

    assert count(base, "en") == count(more, "en")
    assert count(more, "hi") >= 2 * count(base, "hi")
    assert texts[base]["train"] < texts[more]["train"]
    for split in ("eval", "test"):
        assert texts[more][split] == texts[base][split]
        assert not texts[more]["train"] & texts[more][split]
    assert summary["rows_in"] == summary["rows_out"] + summary["dead_lettered"]


def test_same_seed_gives_the_same_dataset(write_config, tmp_path):
    # Topped-up training templates too (en has ~580: 3 samples each at 1500 rows).
    sampling = {"samples_per_template": 1, "train_rows_per_language": 1500}
    config = {"data": {"languages": ["en"], "home_assistant": sampling}}
    out_a, _ = build(write_config, tmp_path, config, "a")
    out_b, _ = build(write_config, tmp_path, config, "b")
    for split in ("train", "eval", "test"):
        key = lambda r: (r["id"], r["text"], r["slot_tags"])  # noqa: E731
        assert sorted(map(key, read_split(out_a, split))) == sorted(map(key, read_split(out_b, split)))


def _bad_rows_config(ratio):
    return {"data": {"source": "jsonl", "paths": [str(FIXTURES / "bad_rows.jsonl")], "max_dead_letter_ratio": ratio}}


def test_every_bad_input_class_is_dead_lettered_with_its_reason(write_config, tmp_path):
    out, summary = build(write_config, tmp_path, _bad_rows_config(1.0))
    assert summary["rows_in"] == 10 == summary["rows_out"] + summary["dead_lettered"]
    assert summary["rows_out"] == 3
    assert summary["dead_letter_reasons"] == {
        "empty_text": 1,
        "line_too_long": 1,
        "malformed_json": 1,
        "missing_intent": 1,
        "not_utf8": 1,
        "span_outside_text": 1,
        "tag_count_mismatch": 1,
    }
    dead = [json.loads(line) for p in glob.glob(os.path.join(out, "dead_letter", "*.jsonl")) for line in open(p)]
    assert len(dead) == 7
    for d in dead:
        assert d["stage"] == "read" and d["reason"] and d["row"]
        assert d["location"].startswith(str(FIXTURES / "bad_rows.jsonl") + ":")
    by_code = {d["code"]: d for d in dead}
    assert by_code["malformed_json"]["location"].endswith(":3")
    assert "UTF-8" in by_code["not_utf8"]["reason"]


def test_too_many_dead_letters_fail_the_job_and_publish_no_data(write_config, tmp_path):
    out = str(tmp_path / "out")
    with pytest.raises(SystemExit) as exit_info:
        build_dataset.run(
            ["--config", write_config(_bad_rows_config(0.1)), "--output_dir", out], test_pipeline=beam_test_pipeline()
        )
    assert exit_info.value.code == 1
    assert sorted(os.listdir(out)) == ["dead_letter", "summary.json"]
    assert json.load(open(os.path.join(out, "summary.json")))["status"] == "failed"


def test_bring_your_own_formats_through_the_job(write_config, tmp_path):
    _, mtop = build(
        write_config, tmp_path, {"data": {"source": "mtop", "paths": [str(FIXTURES / "mtop_sample.tsv")]}}, "m"
    )
    assert mtop["rows_out"] == 3 and mtop["languages"] == ["de", "en", "fr"]
    _, atis = build(
        write_config, tmp_path, {"data": {"source": "multiatis", "paths": [str(FIXTURES / "*DE.tsv")]}}, "a"
    )
    assert atis["rows_in"] == 2 == atis["rows_out"] and atis["languages"] == ["de"]


def test_an_existing_dataset_is_kept_unless_overwrite(write_config, tmp_path):
    config = {"data": {"source": "jsonl", "paths": [str(FIXTURES / "sample.jsonl")]}}
    out, _ = build(write_config, tmp_path, config)
    with pytest.raises(SystemExit) as exit_info:
        build(write_config, tmp_path, config)
    assert exit_info.value.code == 2
    _, summary = build(write_config, tmp_path, config, extra=["--overwrite"])
    assert summary["rows_out"] == 4


GIVEN = FIXTURES / "given_splits"


@pytest.mark.parametrize(
    "source, paths, per_split, shared",
    [
        ("jsonl", {s: [f"jsonl/{s}.jsonl"] for s in ("train", "eval", "test")}, {"train": 3, "eval": 2, "test": 1},
         ("en", "turn on the light", ["eval", "train"])),
        ("mtop", {s: [f"mtop/*/{s}.txt"] for s in ("train", "eval", "test")}, {"train": 2, "eval": 1, "test": 2},
         ("en", "set an alarm", ["test", "train"])),
        ("multiatis", {"train": ["multiatis/train_*.tsv"], "eval": ["multiatis/dev_*.tsv"],
                       "test": ["multiatis/test_*.tsv"]}, {"train": 2, "eval": 1, "test": 2},
         ("de", "zeige mir die preise", ["test", "train"])),
    ],
)  # fmt: skip
def test_the_dataset_own_splits_are_kept(tmp_path, source, paths, per_split, shared):
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"data": {"source": source, "paths": paths, "max_dead_letter_ratio": 0.5}}))
    for pattern in (p for patterns in paths.values() for p in patterns):  # relative to the config file
        for found in GIVEN.glob(pattern):
            target = tmp_path / found.relative_to(GIVEN)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(found.read_bytes())
    out = str(tmp_path / "out")
    summary = build_dataset.run(["--config", str(config), "--output_dir", out], test_pipeline=beam_test_pipeline())
    assert summary["split_totals"] == per_split
    assert {s: len(read_split(out, s)) for s in per_split} == per_split
    lang, text, splits = shared
    assert summary["texts_in_several_splits"]["count"] == 1
    [listed] = summary["texts_in_several_splits"]["first"]
    assert (listed["lang"], listed["text"].casefold().replace("  ", " "), listed["splits"]) == (lang, text, splits)


@pytest.mark.parametrize(
    "paths, message",
    [
        ({"train": ["a.jsonl"], "eval": ["a.jsonl"]}, "data.paths.test: missing"),
        ({"train": ["a.jsonl"], "eval": ["a.jsonl"], "test": ["a.jsonl"], "dev": ["a.jsonl"]},
         "data.paths.dev: unknown split"),
        ({"train": ["a.jsonl"], "eval": ["nope.jsonl"], "test": ["a.jsonl"]},
         "data.paths.eval[0]: no file matches 'nope.jsonl'"),
        ("a.jsonl", "data.paths: expected a list or a mapping, got 'a.jsonl'"),
    ],
)  # fmt: skip
def test_given_splits_config_errors_name_the_key(write_config, tmp_path, paths, message):
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "intent": "greet"}\n')
    with pytest.raises(ConfigError) as err:
        load_config(write_config({"data": {"source": "jsonl", "paths": paths}}))
    assert str(err.value).startswith(message)


def test_the_command_line_takes_given_splits(tmp_path):
    files = {s: GIVEN / "jsonl" / f"{s}.jsonl" for s in ("train", "eval", "test")}
    mapping = "{" + ", ".join(f"{s}: [{p}]" for s, p in files.items()) + "}"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "beam_jobs.build_dataset", "--config", str(REPO / "pipeline.yaml"),
         "--set", "data.source=jsonl", f"data.paths={mapping}", "data.max_dead_letter_ratio=0.5",
         "--output_dir", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    valid = {"train": 3, "eval": 2, "test": 1}  # the train file has one empty text (dead-lettered)
    assert summary["split_totals"] == valid and summary["dead_lettered"] == 1
    assert {s: len(read_split(str(out), s)) for s in valid} == valid
