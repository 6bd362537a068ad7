"""Split roles: train trains, eval validates and selects, test is judged only by the Evaluator.

The Trainer gets the train split and validates on eval (TFX's train_args / eval_args); the
Evaluator, the blessing gate and the summary read test. The teacher fine-tune reads train and
eval only: it runs on a dataset whose test split does not exist."""

import json
import shutil

from pipeline.config import load_config
from pipeline.pipeline import create_pipeline
from teacher.config import TeacherFinetuneConfig
from teacher.finetune import train
from teacher.tiny import make_tiny_base
from tests.conftest import REPO, example_row, write_examples


def test_only_the_evaluator_reads_the_test_split():
    components = {c.id: c for c in create_pipeline(load_config(str(REPO / "pipeline.yaml")), "/r", "/s").components}
    trainer = components["Trainer"].exec_properties
    assert json.loads(trainer["train_args"])["splits"] == ["train"]
    assert json.loads(trainer["eval_args"])["splits"] == ["eval"]
    assert json.loads(components["Evaluator"].exec_properties["example_splits"]) == ["test"]
    assert json.loads(components["Transform"].exec_properties["splits_config"])["analyze"] == ["train"]


def test_the_teacher_fine_tune_never_opens_the_test_split(tmp_path):

    rows = [example_row(i, "turn on the light", "on", ["O"] * 4, "train") for i in range(4)]
    rows += [example_row(9, "turn off the light", "off", ["O"] * 4, "eval")]
    write_examples(tmp_path / "data", rows)
    shutil.rmtree(tmp_path / "data" / "Split-test")
    base = make_tiny_base(str(tmp_path / "base"), ["turn on the light", "turn off the light"], vocab_size=40)
    report = train(
        base,
        str(tmp_path / "data"),
        str(tmp_path / "teacher"),
        TeacherFinetuneConfig(max_steps=4, eval_every_steps=2, num_threads=1),
    )
    assert report["eval"]["all"]["examples"] == 1
