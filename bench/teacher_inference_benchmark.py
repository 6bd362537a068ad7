"""Teacher-inference throughput: the Beam job (RunInference) vs a plain transformers loop.

    .venv/bin/python -m bench.teacher_inference_benchmark \
        --teacher_dir DIR [--dataset_dir runs/dataset] [--rows 2000] [--batch_size 32]

Same model, same rows, same batch size (the Beam handler's min = max batch size), same
word encoding, same precision (bf16 autocast where native), same max_length, same torch
threads (all cores). The plain loop is `encode_words` + `collate` + `model(**batch)` under
`torch.no_grad()`, batches in file order, timed after loading the model; the Beam number is
the whole `beam_jobs.teacher_inference` job on the in-process runner (reading, schema checks
and writing TFRecords included), reported in steady state (its start-up, measured as the
same job on one row, subtracted) and end to end (see `measure`). The job sorts rows by their
number of sub-tokens within windows of 16 batches before batching (`SortByLength`); the plain
loop keeps file order.
Without --teacher_dir the converted multilingual-e5-small base gets fresh heads (speed does
not depend on them). Writes bench/results/teacher_inference.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any, Dict, List, Optional

import tensorflow as tf
import torch
import yaml

from beam_jobs import teacher_inference
from config_core import add_config_arguments
from pipeline.config import Config, load_config_or_exit
from review.artifacts import write_examples
from runtime.timing import machine
from schemas.examples import decode
from schemas.features import SPLITS, TOKENS, TRAIN, split_file_pattern
from teacher.device import inference_device
from teacher.inputs import collate, encode_words
from teacher.model import JointTeacher, load_teacher, load_tokenizer


def _rows(dataset_dir: str, n: int) -> List[bytes]:
    files = sorted(tf.io.gfile.glob(split_file_pattern(dataset_dir, TRAIN)))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP").take(n)]


def _write_dataset(root: str, records: List[bytes]) -> None:
    for split in SPLITS:
        write_examples(root, split, records if split == TRAIN else [])


def plain_loop(teacher_dir: str, token_lists: List[List[str]], batch_size: int, max_length: int, bf16: bool) -> float:
    """Rows per second of a straightforward batched transformers loop (same precision as the job)."""
    model, tokenizer = load_teacher(teacher_dir)
    started = time.perf_counter()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(token_lists), batch_size):
            batch = collate(
                [encode_words(t, tokenizer, max_length) for t in token_lists[i : i + batch_size]],
                tokenizer.pad_token_id,
            )
            model(**batch)
    return len(token_lists) / (time.perf_counter() - started)


def _job_seconds(config: Config, teacher_dir: str, records: List[bytes], batch_size: int, tmp: str) -> float:
    """Wall seconds of the whole `beam_jobs.teacher_inference` job (start-up, reading, writing
    included) on `records` as a dataset's train split, the handler's batch size fixed."""
    job = tempfile.mkdtemp(dir=tmp)
    dataset = os.path.join(job, "dataset")
    _write_dataset(dataset, records)
    cfg = config.to_dict()
    cfg["teacher"]["inference"].update(min_batch_size=batch_size, max_batch_size=batch_size)
    cfg_path = os.path.join(job, "pipeline.yaml")
    with open(cfg_path, "w") as f:
        yaml.safe_dump(cfg, f)
    args = ["--config", cfg_path, "--dataset_dir", dataset, "--teacher_dir", teacher_dir]
    started = time.perf_counter()
    summary = teacher_inference.run(args + ["--output_dir", os.path.join(job, "out")])
    seconds = time.perf_counter() - started
    if summary["rows_out"] != len(records):
        raise RuntimeError(f"teacher inference labelled {summary['rows_out']} of {len(records)} rows")
    return seconds


def measure(
    config: Config, teacher_dir: Optional[str], dataset_dir: str, rows: int, batch_size: int, repeats: int = 2
) -> Dict[str, Any]:
    """Rows per second of the plain loop and of the Beam job on the same rows and teacher.

    The job is timed after an untimed warm-up run (imports, file caches: what a process that
    ran a job before has): on one row, which is its start-up (pipeline construction, stage
    set-up, model and tokenizer loading, the writes), and on all rows. `beam` is the
    steady-state throughput, (rows - 1) / (all-rows time - one-row time), the figure the plain
    loop (timed after loading the model) compares with (None when the run on all rows was not
    slower than the one on one row); `beam_end_to_end` includes start-up.

    Each path runs `repeats` times, interleaved (plain loop, start-up, all rows, then again),
    and each figure is its best run: this machine's speed drifts by tens of percent within
    minutes, and interleaving lets the drift hit both paths alike."""
    records = _rows(dataset_dir, rows)
    token_lists = [decode(r)[TOKENS] for r in records]
    bf16 = teacher_inference.bf16_inference(config.teacher.inference)

    with tempfile.TemporaryDirectory() as tmp:
        if not teacher_dir:
            from teacher.bases import resolve_base

            base = resolve_base(config.teacher.base, config.teacher.cache_dir)
            teacher_dir = os.path.join(tmp, "teacher")
            JointTeacher.from_base(base, ["a", "b"], ["O", "B-x", "I-x"]).save_pretrained(teacher_dir)
            load_tokenizer(base).save_pretrained(teacher_dir)
        torch.set_num_threads(os.cpu_count() or 1)
        _job_seconds(config, teacher_dir, records[:1], batch_size, tmp)
        plains, startups, full_runs = [], [], []
        for _ in range(repeats):
            plains.append(plain_loop(teacher_dir, token_lists, batch_size, config.teacher.inference.max_length, bf16))
            startups.append(_job_seconds(config, teacher_dir, records[:1], batch_size, tmp))
            full_runs.append(_job_seconds(config, teacher_dir, records, batch_size, tmp))
        plain, startup, end_to_end = max(plains), min(startups), min(full_runs)
    # On a handful of rows the difference drowns in the start-up's noise: no figure then.
    beam = (len(records) - 1) / (end_to_end - startup) if end_to_end > startup else None
    device = f"inference device {inference_device(config.teacher.inference.device)}, "
    device += "bf16 autocast" if bf16 else "fp32"
    return {
        "rows": len(records),
        "batch_size": batch_size,
        "repeats": repeats,
        "plain_runs": plains,
        "beam_end_to_end_runs": [len(records) / seconds for seconds in full_runs],
        "plain": plain,
        "beam": beam,
        "ratio": beam / plain if beam else None,
        "beam_startup_seconds": startup,
        "beam_end_to_end": len(records) / end_to_end,
        "ratio_end_to_end": len(records) / end_to_end / plain,
        "device": device,
        "machine": f"{machine()}; {device}",
    }


def _fmt(value: Optional[float], digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--teacher_dir")
    parser.add_argument("--dataset_dir", default="runs/dataset")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--output", default="bench/results/teacher_inference.md")
    args = parser.parse_args()
    config = load_config_or_exit(args.config, args.overrides)
    result = measure(config, args.teacher_dir, args.dataset_dir, args.rows, args.batch_size)
    table = "\n".join(
        [
            f"Teacher inference, {result['rows']} rows, batch {args.batch_size} ({result['machine']}):",
            "",
            "| path | rows/s |",
            "|---|---:|",
            f"| plain transformers loop | {result['plain']:.1f} |",
            f"| Beam RunInference job, steady state (start-up excluded) | {_fmt(result['beam'])} |",
            f"| Beam RunInference job, end to end ({result['beam_startup_seconds']:.1f} s start-up included) "
            f"| {result['beam_end_to_end']:.1f} |",
            f"| ratio Beam / plain, steady state | {_fmt(result['ratio'], 2)} |",
            f"| ratio Beam / plain, end to end | {result['ratio_end_to_end']:.2f} |",
            "",
        ]
    )
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
