"""`python -m pipeline report` on the artifacts of a real tiny run (LocalDagRunner, MLMD, TFMA):
its numbers equal TFMA's, its sections agree with the artifacts, comparison mode gives deltas,
a run that failed before evaluation and an empty root give clear messages.

The runs are the shared tiny runs (`tiny_runs`): full, cached (the same config: every stage
from the cache) and failed (bad data: stops at the schema gate), in one store. The reports are
built once for the module."""

import dataclasses
import json
import math
import os
import re
import subprocess
import sys

import pytest
import tensorflow_model_analysis as tfma

from models import fraction_of_teacher as fot
from pipeline.__main__ import main
from schemas.features import HEADLINE, TFLITE_DIR, TFLITE_FILE
from tests.conftest import TINY_TEACHER_STEPS

pytestmark = pytest.mark.e2e
LATENCY_QUERIES = "5"


def _report(tmp, name, *args):
    output = str(tmp / f"{name}.html")
    code = main(
        [
            "report",
            "--config",
            str(tmp / "pipeline.yaml"),
            "--output",
            output,
            "--latency-queries",
            LATENCY_QUERIES,
            *args,
        ]
    )
    html = open(output, encoding="utf-8").read() if os.path.exists(output) else None
    summary = json.load(open(output[:-5] + ".json", encoding="utf-8")) if html is not None else None
    return code, html, summary


@pytest.fixture(scope="module")
def runs(tiny_runs):
    """The shared tiny runs' reports: `cached` compared with `full`, and `failed`."""
    ids = tuple(tiny_runs[name].run_id for name in ("full", "cached", "failed"))
    tmp = tiny_runs["tmp"]
    reports = {
        "compare": _report(tmp, "compare", "--run", ids[1], "--baseline", ids[0]),
        "failed": _report(tmp, "failed", "--run", ids[2]),
    }
    return {"config": tiny_runs["full"].config, "ids": ids, "reports": reports, "tmp": tmp, "tiny_runs": tiny_runs}


def _same(json_value, tfma_value):
    """The JSON holds TFMA's value; NaN and infinity (a slice too small to judge) as null."""
    if not math.isfinite(tfma_value):
        return json_value is None
    return math.isclose(json_value, tfma_value, rel_tol=1e-12)


def test_numbers_equal_tfma(runs):
    code, html, report = runs["reports"]["compare"]
    assert code == 0 and report["evaluated"]
    uri = runs["tiny_runs"]["evaluation"].uri
    result = tfma.load_eval_result(uri)
    assert report["evaluation_uri"] == uri
    checked = 0
    for slice_key, metrics in result.slicing_metrics:
        values = {k: float(v["doubleValue"]) for k, v in metrics[""][""].items()}
        if not slice_key:
            mine = report["metrics"]["overall"]
        else:
            column, value = slice_key[0]
            value = value.decode() if isinstance(value, bytes) else str(value)
            mine = report["metrics"]["per_language" if column == "lang" else "per_intent"][value]
        assert set(values) == set(mine)
        for name, value in values.items():
            assert _same(mine[name], value), (slice_key, name, mine[name], value)
            checked += 1
    assert checked >= len(fot.metric_names()) * 3

    overall = report["metrics"]["overall"]
    assert overall["teacher_exact_match"] > 0  # the tiny teacher learned something: the fraction is defined
    # The HTML's overall row shows TFMA's numbers, in column order.
    row = re.search(r'<td class="l">overall</td>(.*?)</tr>', html, re.S).group(1)
    # Each cell's number (a fraction's cell also holds its interval in a <span>).
    cells = [c.strip() for c in re.findall(r"<td>([^<]*)(?:<span[^>]*>[^<]*</span>)?</td>", row)]
    expected = [str(int(overall["eval_examples"]))]
    for metric in ("exact_match", "intent_accuracy", "slot_f1"):
        expected += [
            f"{overall[f'{who}_{metric}']:.3f}" if overall[f"{who}_{metric}"] is not None else "n/a"
            for who in ("student", "teacher", "fraction_of_teacher")
        ]
    assert cells == expected

    verdict = report["verdict"]
    assert verdict["blessed"] == (runs["tiny_runs"]["blessing"].custom_properties["blessed"].int_value == 1)
    assert verdict["threshold"] == runs["config"].evaluation.fraction_of_teacher_threshold
    assert verdict["overall_value"] == overall[HEADLINE]
    assert ("BLESSED" if verdict["blessed"] else "NOT BLESSED") in html


def test_recomputed_confusion_and_slot_f1_agree_with_tfma(runs):
    _, html, report = runs["reports"]["compare"]
    overall, predictions = report["metrics"]["overall"], report["predictions"]
    assert predictions["matches_tfma"] and predictions["eval_examples"] == overall["eval_examples"]
    for who in ("student", "teacher"):
        matrix = predictions["confusion"][who]
        assert sum(map(sum, matrix)) == overall["eval_examples"]
        diagonal = sum(matrix[i][i] for i in range(len(matrix)))
        assert math.isclose(diagonal / overall["eval_examples"], overall[f"{who}_intent_accuracy"])
        # Per-slot-type counts add up to the metric's micro slot F1.
        tp, fp, fn = (sum(s[who][k] for s in predictions["slot_f1"].values()) for k in ("tp", "fp", "fn"))
        assert math.isclose(2 * tp / (2 * tp + fp + fn), overall[f"{who}_slot_f1"])
        # Every gold span not predicted exactly is a boundary, wrong-slot or missed error.
        errors = predictions["span_errors"][who]
        assert errors["boundary"] + errors["wrong slot"] + errors["missed"] == fn
        assert errors["spurious"] <= fp
        wrong_rows = round((1 - overall[f"{who}_exact_match"]) * overall["eval_examples"])
        assert sum(predictions["rows_lost"][who].values()) <= wrong_rows
    assert "intent confusion matrix" in html and "slot F1 per slot type" in html
    assert "Where the student loses to the teacher" in html


def test_sections_agree_with_the_artifacts(runs):
    _, html, report = runs["reports"]["compare"]
    config = runs["config"]
    data = report["data"]
    assert set(data["counts"]) == {"train", "eval", "test"} and data["languages"] == ["en"]
    assert report["evaluation_split"] == report["predictions"]["split"] in data["counts"]
    assert data["counts"][report["evaluation_split"]]["en"] == report["metrics"]["overall"]["eval_examples"]
    assert data["augmentation"]["emitted"] > 0 and "slot_resample" in data["augmentation"]["by_method"]
    assert data["soft_labels"]["train"] == data["counts"]["train"]["en"] + data["augmentation"]["emitted"]
    assert {"DatasetGen", "Augment", "TeacherInference"} <= set(report["dead_letters"])

    size = report["size_speed"]
    # full pushed once; cached took the push from the cache; strict was not blessed.
    (version,) = os.listdir(config.push.serving_dir)
    tflite = os.path.join(config.push.serving_dir, version, TFLITE_DIR, TFLITE_FILE)
    assert size["student_int8_bytes"] == os.path.getsize(tflite)
    teacher = size["rows"][-1]
    assert teacher["name"].startswith("teacher") and teacher["params"] > size["student_params"] > 0
    assert size["latency_ratio"] > 0 and all(row["p50_ms"] > 0 for row in size["rows"])

    training = report["training"]
    assert training["epochs"] == config.training.epochs
    assert [len(training["series"]["loss"][s]) for s in ("train", "validation")] == [config.training.epochs] * 2
    assert training["examples_per_second"] > 0

    executions = report["lineage"]["executions"]
    assert {e["component"] for e in executions} >= {"DatasetGen", "Trainer", "Evaluator", "AtomicPusher"}
    assert all(e["state"] == "CACHED" for e in executions if e["component"] in {"DatasetGen", "Trainer", "Evaluator"})
    assert any(
        a["type"] == "ModelEvaluation" and a["uri"] == report["evaluation_uri"] for a in report["lineage"]["artifacts"]
    )
    assert report["config"]["training"]["epochs"] == config.training.epochs
    assert report["config"]["teacher"]["finetune"]["max_steps"] == TINY_TEACHER_STEPS
    # Stages carry their own sections (TeacherFinetune `teacher.finetune`, TeacherInference
    # `teacher.inference`); the report merges them.
    assert report["config"]["teacher"]["inference"] == dataclasses.asdict(config.teacher.inference)
    # Self-contained: every image is inline, nothing is fetched.
    assert html.count('src="data:image/png;base64,') >= 6 and "http://" not in html and "https://" not in html


def test_comparison_mode_gives_deltas(runs):
    first, cached, _ = runs["ids"]
    _, html, report = runs["reports"]["compare"]
    comparison = report["comparison"]
    assert report["run"]["id"] == cached and comparison["baseline_run"] == first
    # cached took every stage from full's cache: same model, same evaluation, no config change.
    for name, delta in comparison["overall"].items():
        assert delta["delta"] in (0.0, None), name
    assert comparison["config_changes"] == [] and comparison["blessed"]["current"] == comparison["blessed"]["baseline"]
    assert f'Comparison with run <span class="mono">{first}</span>' in html


def test_run_that_failed_before_evaluation_says_so_and_shows_what_ran(runs):
    code, html, report = runs["reports"]["failed"]
    assert code == 1
    assert report["run"]["id"] == runs["ids"][2] and report["run"]["status"] == "failed"
    assert not report["evaluated"] and report["verdict"] is None and report["size_speed"] is None
    assert "before evaluation" in report["message"] and "AnomaliesGate" in report["message"]
    assert "DatasetGen (COMPLETE)" in report["message"]
    states = {e["component"]: e["state"] for e in report["lineage"]["executions"]}
    assert states["DatasetGen"] == "COMPLETE" and states["AnomaliesGate"] == "FAILED" and "Trainer" not in states
    assert "No evaluation." in html and "before evaluation" in html and "BLESSED" not in html
    # What did run is still reported: its data and dead-letter summaries.
    assert report["data"]["counts"]["train"]["en"] > 0


def test_no_run_and_unknown_run_messages(runs, tmp_path, capsys):
    config_path = str(runs["tmp"] / "pipeline.yaml")
    empty_root = tmp_path / "work" / "pipeline_root"
    code = main(
        ["report", "--config", config_path, "--pipeline-root", str(empty_root), "--output", str(tmp_path / "r.html")]
    )
    assert code == 2 and not (tmp_path / "r.html").exists()
    assert (
        f"no pipeline run: there is no metadata store at {tmp_path / 'work' / 'metadata' / 'metadata.sqlite'}"
        in capsys.readouterr().err
    )
    code = main(
        ["report", "--config", config_path, "--run", "1999-01-01T00:00:00", "--output", str(tmp_path / "r.html")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no run '1999-01-01T00:00:00'" in err and runs["ids"][0] in err


@pytest.mark.skipif(not any(map(__import__("shutil").which, ("chromium", "chromium-browser"))), reason="no chromium")
def test_report_renders_in_headless_chromium(runs, tmp_path):
    html = str(runs["tmp"] / "compare.html")
    png = tmp_path / "report.png"
    done = subprocess.run(
        [sys.executable, "scripts/screenshot_report.py", html, "--output", str(png), "--height", "3000"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 50_000  # a blank page is a few kB
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))[..., :3]
    assert (pixels < 0.9).any(axis=-1).mean() > 0.05  # ink on the page, not an empty canvas
    # What the browser parsed: the verdict is on the page and every chart is a real PNG.
    browser = next(filter(None, map(__import__("shutil").which, ("chromium", "chromium-browser"))))
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", f"file://{html}"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "BLESSED" in dom and "fraction_of_teacher_exact_match" in dom
    images = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]*)"', dom)
    assert images and all(len(b64) > 2000 for b64 in images), [len(b64) for b64 in images]
