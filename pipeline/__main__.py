"""`python -m pipeline run [--config pipeline.yaml] [--set key=value ...]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pipeline.config import add_config_arguments, load_config_or_exit  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="The pQRNN distillation pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, sqlite MLMD, caching)")
    add_config_arguments(run)
    args = parser.parse_args(argv)
    config = load_config_or_exit(args.config, args.overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from pipeline.local_runner import format_summary, run_local, summarize

    try:
        seconds = run_local(config)
    except Exception as exc:  # noqa: BLE001 - the CLI reports any stage failure in one place
        print(f"\npipeline failed: {exc}", file=sys.stderr)
        return 1
    summary = summarize(config)
    print(format_summary(summary))
    print(f"pipeline finished in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
