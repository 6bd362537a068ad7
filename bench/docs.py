"""Write the generated documentation: docs/results.md and the README's headline table from the
records in bench/results/, docs/configuration.md from the config dataclasses and pipeline.yaml.

    .venv/bin/python -m bench.docs [--check]

Run it after adding a record (`python -m bench.runs`, `bench.real`, `bench.teacher`,
`bench.ablate`, `bench.holdout`, `bench.speed`) or changing a config key. `--check` writes
nothing and exits 1 when a page is not what it would write (`tests/bench/test_docs.py` checks
the same).
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional

from bench import config_doc, results_doc

README = "README.md"
RESULTS_PAGE = "docs/results.md"
CONFIGURATION_PAGE = "docs/configuration.md"


def generated(readme_text: str) -> Dict[str, str]:
    """{path: the text it should hold}, from the records and the config as they are now."""
    return {
        RESULTS_PAGE: results_doc.render_results(results_doc.RESULTS_DIR),
        README: results_doc.replace_block(readme_text, results_doc.render_headline(results_doc.RESULTS_DIR)),
        CONFIGURATION_PAGE: config_doc.render("pipeline.yaml"),
    }


def stale() -> List[str]:
    """The pages that differ from what `generated` writes."""
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    out = []
    for path, text in generated(readme).items():
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        out.append(path)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path} is out of date: run python -m bench.docs", file=sys.stderr)
        return 1 if out_of_date else 0
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    for path, text in generated(readme).items():
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
