"""The dataset job's summary: counts per split, language and intent, dead letters by reason,
texts shared by given splits; its printout; and the rules that make a dataset unusable."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Dict, List, Optional

from beam_jobs.config import DataConfig
from beam_jobs.dataset.rows import NOT_SELECTED
from schemas.features import SPLITS

FIRST_SHARED = 10  # texts in several given splits listed in the summary


def build_summary(counts: List[Dict[str, Any]], dead: List[Dict[str, Any]], extra: Dict[str, Any]) -> Dict[str, Any]:
    """summary.json from the job's count records and dead letters (rows in = out + dead-lettered)."""
    per_split: Dict[str, Dict[str, Dict[str, int]]] = {s: {} for s in SPLITS}
    merged = 0
    shared = sorted((r for r in counts if r["kind"] == "shared_text"), key=lambda r: r["key"])
    for record in counts:
        if record["kind"] == "rows":
            split, lang, intent = record["key"]
            per_split[split].setdefault(lang, {})[intent] = record["count"]
        elif record["kind"] == "merged":
            merged += record["count"]
    rows_out = sum(n for langs in per_split.values() for intents in langs.values() for n in intents.values())
    reasons = Counter(d["code"] for d in dead)
    rows_in = rows_out + len(dead)
    # The ratio is over the selected rows: leaving languages out is a choice, not bad data.
    considered = rows_in - reasons[NOT_SELECTED]
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dead_lettered": len(dead),
        "rows_not_selected": reasons[NOT_SELECTED],
        "dead_letter_ratio": (considered - rows_out) / considered if considered else 0.0,
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "duplicate_texts_merged": merged,
        # Only with the dataset's own splits (data.paths as a mapping): texts in several splits.
        "texts_in_several_splits": {
            "count": len(shared),
            "first": [{"lang": r["key"][0], "text": r["key"][1], "splits": r["splits"]} for r in shared[:FIRST_SHARED]],
        },
        "split_totals": {s: sum(sum(i.values()) for i in per_split[s].values()) for s in SPLITS},
        "languages": sorted({lang for s in per_split.values() for lang in s}),
        "intents": sorted({i for s in per_split.values() for langs in s.values() for i in langs}),
        "counts": per_split,
        **extra,
    }


def print_summary(summary: Dict[str, Any], output_dir: str, out=sys.stdout) -> None:
    """The summary as a short table: status, accounting, dead letters by reason, rows per split and language."""
    langs = summary["languages"]
    print(f"dataset: {output_dir}  ({summary['seconds']:.1f} s, status {summary['status']})", file=out)
    print(
        f"rows in {summary['rows_in']} = out {summary['rows_out']} + dead-lettered {summary['dead_lettered']}"
        f"  (ratio {summary['dead_letter_ratio']:.4f}, limit {summary['max_dead_letter_ratio']})",
        file=out,
    )
    for code, n in summary["dead_letter_reasons"].items():
        print(f"  dead letter {code}: {n}", file=out)
    if summary.get("templates_skipped"):
        print(
            f"templates used {summary['templates_used']}, skipped {sum(summary['templates_skipped'].values())}"
            " (wildcard lists or lists without values; see summary.json)",
            file=out,
        )
    print(f"{len(summary['intents'])} intents, {len(langs)} languages", file=out)
    print("split   " + "".join(f"{lang:>8}" for lang in langs) + "   total", file=out)
    for split in SPLITS:
        by_lang = summary["counts"][split]
        cells = "".join(f"{sum(by_lang.get(lang, {}).values()):>8}" for lang in langs)
        print(f"{split:<8}{cells}{summary['split_totals'][split]:>8}", file=out)


def failure(summary: Dict[str, Any], data: DataConfig) -> Optional[str]:
    """Why this dataset must not be used (None: it may): no input rows, too many dead letters,
    no row left, or an empty split among the user's own splits."""
    if data.source == "home_assistant":
        inputs = f"the Home Assistant templates of data.languages ({', '.join(data.languages)})"
    else:
        inputs = ", ".join(f"{key}={path}" for key, path in data.labelled_paths("data"))
    reasons = ", ".join(f"{code} {n}" for code, n in summary["dead_letter_reasons"].items())
    if summary["rows_in"] == 0:
        return f"the input has no rows (only blank or header lines, or empty files): {inputs}"
    if summary["dead_letter_ratio"] > data.max_dead_letter_ratio:
        considered = summary["rows_in"] - summary["rows_not_selected"]
        return (
            f"{considered - summary['rows_out']} of {considered} rows dead-lettered ({reasons}; "
            f"{summary['dead_letter_ratio']:.1%} > data.max_dead_letter_ratio={data.max_dead_letter_ratio:.1%})"
        )
    if summary["rows_out"] == 0:
        if summary["rows_not_selected"] == summary["rows_in"]:
            return (
                f"no row is in a language of data.languages ({', '.join(data.languages)}); add the data's "
                "languages to data.languages, or set data.languages: [] to keep every language"
            )
        return f"no row made it into the dataset ({reasons})"
    given = data.given_splits() if data.source != "home_assistant" else None
    empty = [split for split in SPLITS if given and summary["split_totals"][split] == 0]
    if empty:
        files = ", ".join(given[empty[0]])
        return f"data.paths.{empty[0]} gave no rows ({files}): a split the data gives must not be empty"
    return None
