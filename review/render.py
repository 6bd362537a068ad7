"""The report as one self-contained HTML page (Jinja2 `template`, charts inlined as data: URIs)
and as a strict JSON file."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

from review.charts import METRIC_COLUMNS, charts, zero_if_missing


def format_number(value: Any, digits: int = 3) -> str:
    """A metric value as the page shows it: fixed digits, `n/a` for None and NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _count(value: Any) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _delta_text(value: Optional[float], digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def _sign(value: Optional[float]) -> str:
    return "" if not value else ("pos" if value > 0 else "neg")


class _Charts(dict):
    """Charts by name for the template; a missing chart is falsy instead of an error."""

    def __getattr__(self, name: str) -> Optional[str]:
        return self.get(name)


def _intent_order(item: Tuple[str, Dict[str, float]], headline: str) -> Tuple[float, float]:
    """Worst fraction of teacher first; undefined fractions (teacher never right) lead, then by size."""
    value = item[1].get(headline, math.nan)
    return (-1 if math.isnan(value) else zero_if_missing(value), -item[1].get("eval_examples", 0))


def render_html(report: Dict[str, Any], images: Dict[str, Optional[str]]) -> str:
    """The page for `report` (see `review.report.build_report`) with the given charts."""
    import jinja2
    import yaml

    from review.template import TEMPLATE

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=format_number, count=_count, delta=_delta_text, sign=_sign)
    quality_rows: List[Tuple[str, Dict[str, Any]]] = []
    intent_rows: List[Tuple[str, Dict[str, float]]] = []
    slot_rows: List[Tuple[str, Dict[str, Any]]] = []
    if report["evaluated"]:
        metrics, verdict = report["metrics"], report["verdict"]
        below = {b["slice"] for b in verdict["below_floor"]}
        few = verdict["min_slice_examples"]
        quality_rows = [("overall", {"v": metrics["overall"], "below": False, "too_few": False})] + [
            (
                f"lang={lang}",
                {"v": values, "below": f"lang={lang}" in below, "too_few": values.get("eval_examples", 0) < few},
            )
            for lang, values in sorted(metrics["per_language"].items())
        ]
        intent_rows = sorted(metrics["per_intent"].items(), key=lambda kv: _intent_order(kv, verdict["headline"]))
    if report["predictions"]:
        slot_rows = sorted(report["predictions"]["slot_f1"].items(), key=lambda kv: -kv[1]["support"])
    return env.from_string(TEMPLATE).render(
        r=report,
        charts=_Charts({k: v for k, v in images.items() if v}),
        metric_cols=METRIC_COLUMNS,
        quality_rows=quality_rows,
        intent_rows=intent_rows,
        slot_rows=slot_rows,
        config_yaml=yaml.safe_dump(report["config"], sort_keys=True) if report["config"] else "",
    )


def json_safe(value: Any) -> Any:
    """NaN and infinities -> null, so the summary is strict JSON any tool can read."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_report(report: Dict[str, Any], output: str, json_output: Optional[str] = None) -> Tuple[str, str]:
    """Write the HTML page and the JSON summary (default: next to it, `.json`); returns both paths."""
    json_output = json_output or os.path.splitext(output)[0] + ".json"
    html = render_html(report, charts(report))
    for path, text in ((output, html), (json_output, json.dumps(json_safe(report), indent=2, ensure_ascii=False))):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return output, json_output
