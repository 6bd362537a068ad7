"""The generated pages are what `python -m bench.docs` writes from the records and the config as
they are now, and the generator shows the newest record of each benchmark."""

import json

import pytest

from bench import config_doc, docs, results_doc
from tests.conftest import REPO


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_results_readme_table_and_configuration_are_up_to_date(in_repo):
    # On failure: run `.venv/bin/python -m bench.docs` and commit what it writes.
    assert docs.stale() == []


def test_every_config_key_says_what_it_does(in_repo):
    assert config_doc.missing_descriptions() == []


def test_the_configuration_page_names_every_key_with_its_shipped_value(in_repo):
    page = config_doc.render()
    for line in (
        "- **`training.patience`** = `3` (int; same if left out)",
        "- **`augmentation.min_train_rows`** = `75000` (int; same if left out)",
        "- **`distillation.temperature`** = `4.0` (float; if left out `1.0`)",
        "- **`evaluation.teacher_min_exact_match`** = `0.5` (float or null; same if left out)",
        "- **`data.unlabeled[].path`** (str; required)",
    ):
        assert line in page


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _run(fraction, commit, **extra):
    return {
        "name": "embedded-default",
        "command": "make run",
        "scored_split": "test",
        "scored_split_rows": 1546,
        "teacher_exact_match": 0.93,
        "student_exact_match": round(0.93 * fraction, 3),
        "fraction_of_teacher": fraction,
        "fraction_of_teacher_interval": [fraction - 0.015, fraction + 0.015],
        "mean_fraction_over_languages": fraction - 0.01,
        "fraction_of_teacher_by_language": {"hi": 0.9, "de": 0.97},
        "blessed": True,
        "commit": commit,
        "machine": "host: 2 CPU cores (Some CPU), 0 GPU(s), Linux, load average 1.0",
        "date": "2026-12-03T10:00:00+00:00",
        **extra,
    }


def test_the_newest_record_is_the_headline_and_mtop_is_not_measured_yet(tmp_path):
    _write(tmp_path / "runs.jsonl", [_run(0.961, "aaaaaaa"), _run(0.972, "bbbbbbb"), _run(0.5, "ccccccc", name="x")])
    headline = results_doc.render_headline(str(tmp_path))
    assert "**0.972** (0.957–0.987)" in headline and "`bbbbbbb`" in headline and "0.961" not in headline
    assert "2 CPU cores (Some CPU), 0 GPU(s)" in headline and "host" not in headline
    mtop = [line for line in headline.splitlines() if "MTOP" in line]
    assert len(mtop) == 1 and "not measured yet" in mtop[0]
    page = results_doc.render_results(str(tmp_path))
    assert "**MTOP: not measured yet.**" in page and "`bench/results/real.jsonl` (none yet)" in page
    assert "| de | – | – | – | 0.970 |" in page  # per language, in the usual order
    assert "1 older records of the embedded default" in page
    assert "| x | the defaults | 0.500" in page  # another name: its own row


def test_the_mtop_row_is_the_newest_record_with_the_shipped_defaults(tmp_path):
    real = [
        {**_run(0.90, "ddddddd"), "name": "mtop", "scored": "eval.jsonl", "overrides": []},
        {
            **_run(0.95, "eeeeeee", minutes=12.5, cached=["DatasetGen", "Augment"]),
            "name": "mtop",
            "scored": "eval.jsonl",
            "overrides": [],
        },
        {**_run(0.99, "fffffff"), "name": "mtop", "scored": "eval.jsonl", "overrides": ["training.epochs=2"]},
    ]
    _write(tmp_path / "real.jsonl", real)
    [mtop] = [line for line in results_doc.render_headline(str(tmp_path)).splitlines() if "MTOP" in line]
    assert "**0.950**" in mtop and "eval.jsonl" in mtop and "`eeeeeee`" in mtop
    assert "12.5 min, 2 stages from the cache" in mtop  # a re-run's minutes are not the whole benchmark's
    page = results_doc.render_results(str(tmp_path))
    # Both settings in the table of every data set, each with its newest record.
    assert "`training.epochs=2`" in page and "0.900" not in page.split("Every data set")[1]


def test_the_headline_records_say_where_the_student_loses(tmp_path):
    losses = {
        "rows_lost": {"student": {"intent": 7, "slots": 30}, "teacher": {"intent": 2, "slots": 4}},
        "span_errors": {"student": {"missed": 25, "boundary": 11}, "teacher": {"missed": 3, "boundary": 9}},
    }
    _write(tmp_path / "runs.jsonl", [_run(0.97, "aaaaaaa", **losses)])
    _write(tmp_path / "real.jsonl", [{**_run(0.8, "bbbbbbb"), "name": "mtop", "overrides": []}])
    page = results_doc.render_results(str(tmp_path))
    embedded, real = page.split("## Real data")[0], page.split("## Real data")[1].split("\n## ")[0]
    assert "| rows lost on slots | 30 | 4 |" in embedded and "| slot spans: missed | 25 | 3 |" in embedded
    assert "Where the student loses" not in real  # a record without the counts shows no table


def test_the_readme_block_is_replaced_between_the_markers():
    text = "a\n<!-- results:begin -->\nold\n<!-- results:end -->\nb\n"
    assert results_doc.replace_block(text, "new\n") == "a\n<!-- results:begin -->\nnew\n<!-- results:end -->\nb\n"
    with pytest.raises(ValueError):
        results_doc.replace_block("no markers", "new\n")


def test_the_device_section_lists_what_differs(tmp_path):
    answer = {"intent": "HassTurnOn", "slot_tags": ["O", "B-area"]}
    other = {"intent": "HassTurnOff", "slot_tags": ["O", "O"]}
    device = {
        "command": "python -m bench.device_agreement DIR",
        "serving_dir": "/runs/serving/1",
        "utterances": 200,
        "features_identical": 200,
        "int8_agreement": 1.0,
        "saved_model_agreement": 0.995,
        "saved_model_agreement_by_source": {"en": 1.0, "edge": 0.9},
        "int8_disagreements": [],
        "saved_model_disagreements": [
            {"source": "edge", "text": "a|b\n", "c_litert": answer, "saved_model": other},
        ],
        "commit": "ggggggg",
        "date": "2026-12-05T10:00:00+00:00",
    }
    _write(tmp_path / "device.jsonl", [{**device, "int8_agreement": 0.5}, device])
    page = results_doc.render_results(str(tmp_path))
    assert "| `/runs/serving/1` | 200 | 200 | **100.0 %** | 99.5 % | `ggggggg`" in page and "50.0 %" not in page
    assert "Where C → LiteRT and TF → LiteRT differ in the newest record: none." in page
    assert "| edge | `a/b\\n` | HassTurnOn: O B-area | HassTurnOff: O O |" in page
    assert "by source (newest record): en 100.0 %, edge 90.0 %" in page
    assert "`bench/results/serving.jsonl` (none yet)" in page


def test_the_learning_curve_lists_each_runs_subsamples_by_their_teacher_labelled_rows(tmp_path):
    def point(name, run, augmented, em):
        return {
            "name": name,
            "run": run,
            "augmented_fraction": 0.5,
            "gold_train_rows": 100,
            "augmented_train_rows": augmented,
            "epochs": 6,
            "student_eval_exact_match": em,
        }

    records = [
        point("b-half", "run-b", 500, 0.41),
        point("a-all", "run-a", 900, 0.6),
        point("b-all", "run-b", 1000, 0.45),
    ]
    records.append({"name": "no-subsample", "run": "run-b", "student_eval_exact_match": 0.9})
    records.append({**point("b-bigger-state", "run-b", 500, 0.4), "overrides": ["student.qrnn.state_size=192"]})
    records.append({**point("b-no-swaps", "run-b", 800, 0.44), "left_out_rows": {"word_swap": 200}})
    _write(tmp_path / "ablation.jsonl", records)
    curve = results_doc.render_results(str(tmp_path)).split("### Learning curve")[1].split("\n## ")[0]
    names = [line.split(" | ")[1] for line in curve.splitlines() if line.startswith("| `run-")]
    assert names == ["a-all", "b-half", "b-all"]
    assert "| 1,000 | 6 | 0.4500 |" in curve


def test_the_real_utterance_curve_lists_each_fraction_of_train_groups_of_one_setting(tmp_path):
    setting = ["teacher.finetuned_path=/t"]

    def point(fraction, rows, fraction_of_teacher, **extra):
        return {
            **_run(fraction_of_teacher, "hhhhhhh"),
            "name": f"mtop-{fraction}",
            "scored": "eval.jsonl",
            "overrides": setting,
            "train_groups_fraction": fraction,
            "train_rows": rows,
            **extra,
        }

    real = [
        point(1.0, 6444, 0.71, date="2026-01-01T01:00:00"),
        point(0.25, 1600, 0.40, date="2026-01-01T02:00:00"),  # replaced by the newer record of the same fraction
        point(0.5, 3200, 0.62, date="2026-01-01T03:00:00"),
        point(0.25, 1610, 0.55, date="2026-01-01T04:00:00"),
        {**point(1.0, 6444, 0.72), "overrides": []},  # another setting, never subsampled
        point(1.0, 6444, 0.80, date="2026-01-01T05:00:00"),  # after the curve: a later student
        # The rest of the groups unlabelled: another setting, beside the plain point of its fraction.
        point(0.25, 1610, 0.66, date="2026-01-01T04:30:00", rest_unlabelled=True),
    ]
    _write(tmp_path / "real.jsonl", real)
    curve = results_doc.render_results(str(tmp_path)).split("### Against real utterances")[1].split("\n## ")[0]
    rows = [line for line in curve.splitlines() if line.startswith("| mtop-")]
    assert [row.split(" | ")[3] for row in rows] == ["1,610", "3,200", "6,444", "1,610"]
    assert "0.710" in curve and "0.550" in curve and "0.660" in curve
    assert "0.400" not in curve and "0.720" not in curve and "0.800" not in curve


def test_the_word_coverage_table_shows_each_slices_fraction_of_teacher(tmp_path):
    record = {
        "name": "cov",
        "student_eval_exact_match_by_word_coverage": {"every word seen": 0.6, "an unseen word": 0.3},
        "teacher_eval_exact_match_by_word_coverage": {"every word seen": 0.75, "an unseen word": 0.6},
        "commit": "iiiiiii",
    }
    _write(tmp_path / "ablation.jsonl", [record, {"name": "no slices", "student_eval_exact_match": 0.5}])
    table = results_doc.render_results(str(tmp_path)).split("### Seen and unseen words")[1].split("\n## ")[0]
    assert "| cov | the defaults | 0.600 | 0.750 | 0.800 | 0.300 | 0.600 | 0.500 | `iiiiiii` |" in table
    assert "no slices" not in table


def test_the_rare_intents_table_shows_student_and_teacher_per_bucket(tmp_path):
    record = {
        "name": "rare",
        "student_eval_intent_accuracy_by_intent_train_rows": {"0-20": 0.3, "201+": 0.9},
        "teacher_eval_intent_accuracy_by_intent_train_rows": {"0-20": 0.6, "21-60": 0.8, "201+": 0.95},
        "commit": "jjjjjjj",
    }
    _write(tmp_path / "ablation.jsonl", [record, {"name": "no slices", "student_eval_exact_match": 0.5}])
    table = results_doc.render_results(str(tmp_path)).split("### Rare intents")[1].split("\n## ")[0]
    assert "| rare | the defaults | 0.300 / 0.600 | – / 0.800 | – / – | 0.900 / 0.950 | `jjjjjjj` |" in table
    assert "no slices" not in table
