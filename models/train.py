"""Trainer `run_fn`: distil the teacher's soft labels into the pQRNN student.

Labels: the order of the teacher's logits is tf.Transform's label vocabularies
(`fn_args.transform_output`), which teacher inference followed; the student uses the same.
The config sections come as the Trainer's custom config (see `models.sections.TRAINER`).
Outputs under `serving_model_dir`: the SavedModel serving raw text (see `pqrnn.export`) and
the int8 TFLite encoder in `assets.extra/`; TensorBoard logs go to `model_run_dir`.
"""

from __future__ import annotations

from tfx import v1 as tfx

import config_core
from models.preprocessing import label_vocabularies
from models.sections import TRAINER
from pqrnn.train import train_student


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    sections = config_core.sections(fn_args.custom_config, TRAINER)
    intents, tags = label_vocabularies(fn_args.transform_output)
    train_student(
        sections["student"],
        sections["distillation"],
        sections["training"],
        sections["project.seed"],
        train_pattern=fn_args.train_files[0],
        eval_pattern=fn_args.eval_files[0],
        intents=intents,
        tags=tags,
        serving_model_dir=fn_args.serving_model_dir,
        log_dir=fn_args.model_run_dir,
    )
