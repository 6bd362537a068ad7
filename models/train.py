"""Trainer `run_fn`: distil the teacher's soft labels into the pQRNN student.

Labels: the order of the teacher's logits is tf.Transform's label vocabularies
(`fn_args.transform_output`), which teacher inference followed; the student uses the same.
The config sections come as the Trainer's custom config (see `models.sections.TRAINER`).
Outputs under `serving_model_dir`: the SavedModel serving raw text (see `pqrnn.export`) and
the int8 TFLite encoder in `assets.extra/`; TensorBoard logs go to `model_run_dir`.

Where TensorFlow already runs in the Trainer's process (LocalDagRunner runs every component in
one process) its thread settings are fixed, so the student trains in a fresh child process with
`pqrnn.train.student_cpu_threads`; its log records come back to this process's handlers.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import threading
from typing import Any, Dict

from tfx import v1 as tfx

import config_core
from models.preprocessing import label_vocabularies
from models.sections import TRAINER
from pqrnn.train import configure_cpu_threads, train_student


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    fresh_threads = configure_cpu_threads()  # before anything below starts TensorFlow
    sections = config_core.sections(fn_args.custom_config, TRAINER)
    intents, tags = label_vocabularies(fn_args.transform_output)
    arguments = dict(
        student=sections["student"],
        distillation=sections["distillation"],
        training=sections["training"],
        seed=sections["project.seed"],
        train_pattern=fn_args.train_files[0],
        eval_pattern=fn_args.eval_files[0],
        intents=intents,
        tags=tags,
        serving_model_dir=fn_args.serving_model_dir,
        log_dir=fn_args.model_run_dir,
    )
    if fresh_threads:
        train_student(**arguments)
    else:
        train_in_child_process(arguments)


def _child(records: Any, arguments: Dict[str, Any]) -> None:
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(logging.INFO)
    train_student(**arguments)


def _forward(records: Any) -> None:
    while (record := records.get()) is not None:
        logging.getLogger(record.name).handle(record)


def train_in_child_process(arguments: Dict[str, Any]) -> None:
    """`train_student(**arguments)` in a fresh (spawned) process whose log records are handled
    here; raises if it fails. Its stdout and stderr are this process's file descriptors."""
    context = multiprocessing.get_context("spawn")
    records = context.Queue()
    forwarder = threading.Thread(target=_forward, args=(records,), daemon=True)
    forwarder.start()
    child = context.Process(target=_child, args=(records, arguments), name="student-trainer")
    child.start()
    child.join()
    records.put(None)
    forwarder.join()
    if child.exitcode != 0:
        raise RuntimeError(f"training the student failed in its process (exit code {child.exitcode}); see the log above")
