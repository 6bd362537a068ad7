"""The real-data benchmark: the whole pipeline on your own labelled files, shipped defaults plus `data.*`.

    .venv/bin/python -m bench.real --data DIR [--name NAME] [--work-dir DIR] [--set key=value ...]
        [--output bench/results/real.jsonl]

DIR holds `train.jsonl` and `eval.jsonl` (the `data.source: jsonl` format), optionally
`test.jsonl`. With a test file the pipeline keeps the three splits as given. Without one,
`eval.jsonl` becomes the scored split and nothing selects on it: a tenth of the train
groups (by `group_id`, so no utterance of a group is on both sides) becomes the split the
teacher and the student stop on. The record names which file was scored.

Runs `python -m pipeline run` in its own work dir (so the run does not touch `make run`'s), then
appends one JSON line to `--output`: per-language teacher and student exact match, fraction of
teacher with its 95 % interval, the verdict, where the teacher and the student stopped, stage
seconds, the commit and the machine. `--set` overrides go to the pipeline (for ablations; the
benchmark's own row is the one without).

`--train-groups F` keeps a fraction F of the train groups (chosen by a hash of the group id, so a
smaller fraction's groups are a subset of a larger one's; the stopping split stays the same): a
point of the curve of the student against the number of real utterances it learns from.
`--rest-unlabelled` also gives the left-out train groups' texts, without their labels, to
`data.unlabeled`: what real unlabelled utterances (production traffic) are worth against
labelling them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from beam_jobs.dataset.rows import assign_split
from bench.common import commit_and_machine, recorded_command
from bench.runs import run_record
from review.run_store import local_metadata_path

TRAIN_FILE, EVAL_FILE, TEST_FILE = "train.jsonl", "eval.jsonl", "test.jsonl"
STOP_FRACTION = 0.1  # of the train groups, when DIR has no test file: the split training stops on


def keeps_train_group(group: str, fraction: float) -> bool:
    """Whether `--train-groups fraction` keeps this train group (nested in the fraction, and
    independent of the stopping split's hash)."""
    digest = hashlib.sha256(f"train-groups:{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def split_files(
    data_dir: str, work_dir: str, train_groups: float = 1.0, rest_unlabelled: bool = False
) -> Dict[str, Any]:
    """`data.paths` for the run, which of DIR's files is scored, and how many rows train; with
    `rest_unlabelled`, also `unlabeled`: a file of the left-out train groups' texts and languages."""
    paths = {name: os.path.join(os.path.abspath(data_dir), name) for name in (TRAIN_FILE, EVAL_FILE, TEST_FILE)}
    for name in (TRAIN_FILE, EVAL_FILE):
        if not os.path.isfile(paths[name]):
            raise FileNotFoundError(f"{data_dir}: no {name} (DIR holds train.jsonl, eval.jsonl, optionally test.jsonl)")
    if not 0.0 < train_groups <= 1.0:
        raise ValueError(f"--train-groups {train_groups}: must be in (0, 1]")
    if rest_unlabelled and train_groups == 1.0:
        raise ValueError("--rest-unlabelled needs --train-groups below 1: no train group is left out")
    has_test = os.path.isfile(paths[TEST_FILE])
    # Without a test file a tenth of the train file's groups is the stopping split; of the
    # others, `train_groups` are kept (both by group id, so a group stays on one side).
    roles: Dict[str, List[str]] = {"train": [], "eval": [], "unlabeled": []}
    with open(paths[TRAIN_FILE], encoding="utf-8") as src:
        for line in src:
            if not line.strip():
                continue
            row = json.loads(line)
            group = str(row.get("group_id") or row.get("id") or line)
            line = line if line.endswith("\n") else line + "\n"
            if not has_test and assign_split(group, 1.0 - STOP_FRACTION, STOP_FRACTION) == "eval":
                roles["eval"].append(line)
            elif keeps_train_group(group, train_groups):
                roles["train"].append(line)
            elif rest_unlabelled:
                text = {"text": row.get("text"), "lang": row.get("lang")}
                roles["unlabeled"].append(json.dumps(text, ensure_ascii=False) + "\n")
    if has_test:
        split_paths = {"train": [paths[TRAIN_FILE]], "eval": [paths[EVAL_FILE]], "test": [paths[TEST_FILE]]}
        written = ["train"] if train_groups < 1.0 else []
    else:
        split_paths = {"train": [paths[TRAIN_FILE]], "eval": [paths[EVAL_FILE]], "test": [paths[EVAL_FILE]]}
        written = ["train", "eval"]
    for split in written:
        os.makedirs(work_dir, exist_ok=True)
        split_paths[split] = [os.path.join(work_dir, "stop.jsonl" if split == "eval" else "train.jsonl")]
        with open(split_paths[split][0], "w", encoding="utf-8") as out:
            out.writelines(roles[split])
    splits = {"paths": split_paths, "scored": TEST_FILE if has_test else EVAL_FILE, "train_rows": len(roles["train"])}
    if rest_unlabelled:
        splits["unlabeled"] = os.path.join(work_dir, "unlabeled.jsonl")
        splits["unlabeled_rows"] = len(roles["unlabeled"])
        with open(splits["unlabeled"], "w", encoding="utf-8") as out:
            out.writelines(roles["unlabeled"])
    return splits


def run_pipeline(config: str, work_dir: str, paths: Dict[str, List[str]], overrides: List[str]) -> float:
    """Run the pipeline on `paths` in `work_dir`; its wall seconds."""
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        "--config",
        config,
        "--set",
        "data.source=jsonl",
        "--set",
        f"data.paths={json.dumps(paths)}",
        "--set",
        f"project.work_dir={work_dir}/runs",
        "--set",
        f"push.serving_dir={work_dir}/serving",
    ]
    for override in overrides:
        command += ["--set", override]
    started = time.time()
    subprocess.run(command, check=True)
    return time.time() - started


def record(config_path: str, work_dir: str, project_name: str) -> Dict[str, Any]:
    """What the run in `work_dir` measured, read from its MLMD store and artifacts."""
    # `run_pipeline` sets project.work_dir to WORK_DIR/runs: LocalDagRunner's store is beside its root.
    metadata = local_metadata_path(os.path.join(work_dir, "runs", "pipeline_root"))
    return run_record(metadata, project_name)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.real", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with train.jsonl, eval.jsonl[, test.jsonl]")
    parser.add_argument("--name", help="the record's name (default: the data folder's name)")
    parser.add_argument("--config", default="pipeline.yaml", help="path to pipeline.yaml")
    parser.add_argument("--work-dir", help="the run's folder (default runs/real-NAME)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output", default="bench/results/real.jsonl")
    parser.add_argument(
        "--train-groups",
        type=float,
        default=1.0,
        metavar="F",
        help="keep this fraction of the train groups (a point of the curve against real utterances)",
    )
    parser.add_argument(
        "--rest-unlabelled",
        action="store_true",
        help="give the left-out train groups' texts, without labels, to data.unlabeled",
    )
    parser.add_argument(
        "--record-existing",
        type=float,
        metavar="MINUTES",
        help="run nothing: record the latest run already in the work dir, which took MINUTES",
    )
    args = parser.parse_args(argv)
    name = args.name or os.path.basename(os.path.normpath(args.data))
    work_dir = os.path.abspath(args.work_dir or os.path.join("runs", f"real-{name}"))
    try:
        splits = split_files(args.data, work_dir, args.train_groups, args.rest_unlabelled)
    except (FileNotFoundError, ValueError) as exc:
        print(f"bench.real: {exc}", file=sys.stderr)
        return 2
    provenance = commit_and_machine()  # the commit the run starts from, not a later one
    if args.record_existing is not None:
        seconds = 60 * args.record_existing
    else:
        unlabeled = [f"data.unlabeled={json.dumps([{'path': splits['unlabeled']}])}"] if args.rest_unlabelled else []
        try:
            seconds = run_pipeline(args.config, work_dir, splits["paths"], unlabeled + args.overrides)
        except subprocess.CalledProcessError as exc:
            print(f"bench.real: the pipeline failed (exit {exc.returncode}); no record written", file=sys.stderr)
            return 1
    from pipeline.config import load_config_or_exit

    config = load_config_or_exit(args.config, args.overrides)
    row = {
        "name": name,
        "command": recorded_command("python -m bench.real", argv),
        "overrides": args.overrides,
        "scored": splits["scored"],
        "train_groups_fraction": args.train_groups,
        "train_rows": splits["train_rows"],
        "rest_unlabelled": args.rest_unlabelled,
        "unlabeled_rows": splits.get("unlabeled_rows", 0),
        "minutes": round(seconds / 60, 1),
        **record(args.config, work_dir, config.project.name),
        **provenance,
    }
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(
        f"{name} ({splits['scored']}): fraction of teacher {row['fraction_of_teacher']:.3f} "
        f"({row['fraction_of_teacher_interval'][0]:.3f}-{row['fraction_of_teacher_interval'][1]:.3f}), "
        f"teacher EM {row['teacher_exact_match']:.3f}, student EM {row['student_exact_match']:.3f}, "
        f"{row['minutes']} min; {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
