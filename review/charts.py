"""The report's charts (matplotlib, Agg backend), each a base64 PNG to embed in the page."""

from __future__ import annotations

import base64
import io
import math
from typing import Any, Dict, Optional

METRIC_COLUMNS = ("exact_match", "intent_accuracy", "slot_f1")


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def zero_if_missing(v: Optional[float]) -> float:
    """0.0 for None or NaN (a bar of height zero), else the value."""
    return 0.0 if v is None or math.isnan(v) else v


def chart_fraction(report: Dict[str, Any]) -> str:
    """Fraction of teacher (exact match) per language and overall, with the gate and the floor."""
    import matplotlib.pyplot as plt

    verdict, metrics = report["verdict"], report["metrics"]
    headline = verdict["headline"]
    names = sorted(metrics["per_language"]) + ["overall"]
    values = [metrics["per_language"][n].get(headline, math.nan) for n in names[:-1]] + [verdict["overall_value"]]
    floor = verdict["floor_used"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.45 * len(names) + 2), 3.6))
    colors = ["#c5221f" if math.isnan(v) or (floor is not None and v < floor) else "#1a73e8" for v in values]
    colors[-1] = "#5f6368" if colors[-1] == "#1a73e8" else colors[-1]
    ax.bar(names, [zero_if_missing(v) for v in values], color=colors)
    for i, v in enumerate(values):
        ax.text(
            i, zero_if_missing(v) + 0.01, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center", va="bottom", fontsize=9
        )
    if verdict["threshold"] is not None:
        ax.axhline(verdict["threshold"], color="#1e8e3e", linestyle="--", label=f"gate {verdict['threshold']:.2f}")
    if verdict["per_language_floor"] is not None:
        ax.axhline(
            verdict["per_language_floor"],
            color="#b06000",
            linestyle=":",
            label=f"language floor {verdict['per_language_floor']:.2f}",
        )
    top = max([zero_if_missing(v) for v in values] + [verdict["threshold"] or 0, 1.0]) * 1.12
    ax.set_ylim(0, top)
    ax.set_ylabel("student EM / teacher EM")
    ax.set_title("Fraction of teacher (exact match) per language; red: below the floor or undefined")
    ax.legend(loc="lower right", fontsize=9)
    ax.tick_params(axis="x", rotation=90 if len(names) > 14 else 0)
    return _png(fig)


def chart_per_language(report: Dict[str, Any]) -> str:
    """Student vs teacher per language: exact match, intent accuracy, slot F1."""
    import matplotlib.pyplot as plt
    import numpy as np

    per_language = report["metrics"]["per_language"]
    langs = sorted(per_language)
    x = np.arange(len(langs))
    fig, axes = plt.subplots(3, 1, figsize=(max(7.0, 0.4 * len(langs) + 2), 8.4), sharex=True)
    axes[-1].set_xlim(-0.8, len(langs) - 0.2)  # one or two languages: keep the bars narrow
    for ax, metric in zip(axes, METRIC_COLUMNS):
        for offset, who, color in ((-0.2, "teacher", "#9aa0a6"), (0.2, "student", "#1a73e8")):
            values = [zero_if_missing(per_language[lang].get(f"{who}_{metric}")) for lang in langs]
            ax.bar(x + offset, values, 0.4, label=who, color=color)
            if len(langs) <= 12:  # few languages: the numbers fit on the bars
                for xi, v in zip(x + offset, values):
                    ax.text(xi, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # outside: bars reach 1.0
    axes[0].set_title(f"Student vs teacher per language ({report['evaluation_split']} split)")
    axes[-1].set_xticks(x, langs, rotation=90 if len(langs) > 14 else 0)
    return _png(fig)


def chart_confusion(predictions: Dict[str, Any]) -> str:
    """The student's intent confusion matrix, rows (gold) normalised; counts printed when small."""
    import matplotlib.pyplot as plt
    import numpy as np

    labels = predictions["labels"]
    matrix = np.array(predictions["confusion"]["student"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    side = max(5.0, 0.34 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fontsize = 9 if len(labels) <= 25 else 8
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set_xlabel("predicted by the student")
    ax.set_ylabel("gold intent")
    if len(labels) <= 25:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        int(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if normalised[i, j] > 0.5 else "black",
                    )
    fig.colorbar(image, ax=ax, fraction=0.04, label="share of the gold intent's examples")
    ax.set_title(f"Intent confusion of the student ({predictions['split']} split)")
    return _png(fig)


def chart_slots(predictions: Dict[str, Any]) -> Optional[str]:
    """Slot F1 per slot type, student vs teacher, most frequent first; None without slots."""
    import matplotlib.pyplot as plt
    import numpy as np

    slots = predictions["slot_f1"]
    names = sorted(slots, key=lambda n: -slots[n]["support"])
    if not names:
        return None
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(names) + 1.2)))
    for offset, who, color in ((0.2, "teacher", "#9aa0a6"), (-0.2, "student", "#1a73e8")):
        ax.barh(y + offset, [zero_if_missing(slots[n][who]["f1"]) for n in names], 0.4, label=who, color=color)
    ax.set_yticks(y, [f"{n} ({slots[n]['support']})" for n in names], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("slot F1 (gold spans in brackets)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.set_title(f"Slot F1 per slot type ({predictions['split']} split)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def chart_training(training: Dict[str, Any]) -> str:
    """One small plot per logged metric: train and validation value per epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = training["series"]
    names = list(series)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for subdir, style in (("train", "o-"), ("validation", "s--")):
            points = series[name].get(subdir)
            if points:
                ax.plot([s + 1 for s, _ in points], [v for _, v in points], style, label=subdir, markersize=4)
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def chart_timeline(lineage_data: Dict[str, Any]) -> str:
    """Each execution as a bar from its start to its end, coloured by state."""
    import matplotlib.pyplot as plt

    executions = lineage_data["executions"]
    colors = {"COMPLETE": "#1a73e8", "CACHED": "#9aa0a6", "FAILED": "#c5221f"}
    fig, ax = plt.subplots(figsize=(9, max(2.2, 0.32 * len(executions) + 1)))
    start0 = min((e["started_ms"] for e in executions), default=0)
    span = max([(e["started_ms"] - start0) / 1000 + e["seconds"] for e in executions] + [1.0])
    for i, e in enumerate(executions):
        offset = (e["started_ms"] - start0) / 1000
        width = max(e["seconds"], span / 300)  # a cache hit stays visible without looking long
        ax.barh(i, width, left=offset, color=colors.get(e["state"], "#b06000"))
        ax.text(offset + width + span / 100, i, f"{e['seconds']:.1f} s {e['state'].lower()}", va="center", fontsize=8)
    ax.set_yticks(range(len(executions)), [e["component"] for e in executions], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run's first stage started")
    ax.set_title(f"Stages of the run ({lineage_data['wall_seconds']:.1f} s wall)")
    ax.set_xlim(0, span * 1.2)
    return _png(fig)


def charts(report: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """Every chart the report's data allows, by name (as the template refers to them)."""
    import matplotlib

    matplotlib.use("Agg")
    out: Dict[str, Optional[str]] = {"timeline": chart_timeline(report["lineage"])}
    if report["evaluated"]:
        out["fraction"] = chart_fraction(report)
        out["per_language"] = chart_per_language(report)
    if report["predictions"]:
        out["confusion"] = chart_confusion(report["predictions"])
        out["slots"] = chart_slots(report["predictions"])
    if report["training"]:
        out["training"] = chart_training(report["training"])
    return out
