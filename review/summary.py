"""The few lines `make run` prints when a local run ends: teacher vs student exact match per
language, the size of both, the verdict and where the student went. Read through `run_store`
and `evaluation`, like the report."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from models.fraction_of_teacher import ABOVE_TEACHER_GATE, FLOOR_GATE, GATE, TEACHER_GATE
from review.artifacts import eval_split, format_stopping_points, stopping_points
from review.evaluation import load_metrics
from review.run_store import read_run
from review.speed import student_tflite_path, weight_bytes
from schemas.features import HEADLINE


@dataclass
class RunSummary:
    """What a run produced, as the end-of-run summary prints it."""

    run_id: str
    # The split the Evaluator scored (test: untouched by training and selection).
    split: Optional[str]
    # Slices with fewer examples are shown but "too few to judge".
    min_slice_examples: int
    blessed: bool
    # The Evaluator's gate on the overall headline metric (None without an evaluation).
    threshold: Optional[float]
    per_language_floor: Optional[float]
    overall: Dict[str, float]
    per_language: Dict[str, Dict[str, float]]
    teacher_bytes: int
    student_int8_bytes: int
    pushed_to: Optional[str]
    # The teacher checks of the Evaluator (None: not checked, e.g. runs from before them): the
    # teacher's least exact match, and the most the lower end of the fraction's interval may be.
    teacher_min_exact_match: Optional[float] = None
    above_teacher_bound: Optional[float] = None
    # Where and why the teacher fine-tune and the Trainer stopped (`review.artifacts.stopping_points`).
    stopped: Dict[str, Optional[Dict[str, Any]]] = field(default_factory=dict)

    @property
    def size_ratio(self) -> float:
        return self.teacher_bytes / self.student_int8_bytes if self.student_int8_bytes else math.nan


def summarize(metadata_path: str, pipeline_name: str, run: str = "latest") -> RunSummary:
    """What a run of the pipeline (default: its latest) produced, found through MLMD."""
    found = read_run(metadata_path, pipeline_name, run)
    evaluation = found.artifact("Evaluator", "evaluation")
    metrics = load_metrics(evaluation.uri) if evaluation is not None else None
    student, teacher = found.student_model(), found.teacher_model()
    tflite = student_tflite_path(student.uri) if student is not None else None
    return RunSummary(
        run_id=found.id,
        split=eval_split(found.execution("Evaluator")) if evaluation is not None else None,
        min_slice_examples=metrics.min_slice_examples if metrics else 0,
        blessed=found.blessed(),
        threshold=metrics.threshold if metrics else None,
        per_language_floor=metrics.per_language_floor if metrics else None,
        overall=metrics.overall if metrics else {},
        per_language=metrics.per_language if metrics else {},
        teacher_bytes=weight_bytes(teacher.uri) if teacher is not None else 0,
        student_int8_bytes=os.path.getsize(tflite) if tflite and os.path.isfile(tflite) else 0,
        pushed_to=found.pushed_to(),
        teacher_min_exact_match=metrics.teacher_min_exact_match if metrics else None,
        above_teacher_bound=metrics.above_teacher_bound if metrics else None,
        stopped=stopping_points(found),
    )


def teacher_failures(summary: RunSummary) -> Tuple[List[str], List[str]]:
    """(languages where the teacher's exact match is below the minimum, languages where the
    student is clearly above the teacher), in words; "all" is the overall slice. The same checks
    as the Evaluator's (`TEACHER_GATE`, `ABOVE_TEACHER_GATE`; NaN fails both, as in TFMA)."""
    nan = math.nan
    slices = sorted(summary.per_language.items()) + ([("all", summary.overall)] if summary.overall else [])
    weak, above = [], []
    for lang, values in slices:
        minimum = summary.teacher_min_exact_match
        teacher = values.get(TEACHER_GATE, nan)
        if minimum is not None and not teacher >= minimum:
            weak.append(f"{lang} teacher EM {teacher:.3f} < {minimum}")
        lower = values.get(ABOVE_TEACHER_GATE, nan)
        if summary.above_teacher_bound is not None and not lower <= summary.above_teacher_bound:
            if math.isnan(lower):
                above.append(f"{lang}: the teacher got no example exactly right")
            else:
                upper = values.get(f"{HEADLINE}_upper", nan)
                above.append(f"{lang}: student clearly above the teacher (interval {lower:.3f}-{upper:.3f})")
    return weak, above


def format_summary(summary: RunSummary) -> str:
    """The summary as the lines printed after a run (begins with an empty line)."""
    nan = math.nan
    lines = [
        "",
        f"{summary.split or '?'} split: fraction of teacher = student exact match / teacher exact match, "
        "with its 95 % interval (paired bootstrap over examples)",
        "language   examples   teacher EM   student EM   fraction of teacher   95 % interval",
    ]
    for lang, values in sorted(summary.per_language.items()) + [("all", summary.overall)]:
        examples = values.get("eval_examples", nan)
        note = "  too few to judge" if lang != "all" and examples < summary.min_slice_examples else ""
        lines.append(
            f"{lang:<10} {examples:>8.0f}   {values.get('teacher_exact_match', nan):>10.3f}"
            f"   {values.get('student_exact_match', nan):>10.3f}   {values.get(HEADLINE, nan):>19.3f}"
            f"   {values.get(HEADLINE + '_lower', nan):.3f}-{values.get(HEADLINE + '_upper', nan):.3f}{note}"
        )
    if summary.per_language:
        mean = sum(v.get(HEADLINE, nan) for v in summary.per_language.values()) / len(summary.per_language)
        lines.append(f"mean fraction of teacher over languages: {mean:.3f}")
    lines.append(
        f"size: teacher fp32 {summary.teacher_bytes / 1e6:.1f} MB, "
        f"student int8 {summary.student_int8_bytes / 1e6:.2f} MB -> {summary.size_ratio:.0f}x smaller"
    )
    verdict = "BLESSED" if summary.blessed else "NOT BLESSED"
    if summary.threshold is None:
        gate = "the run has no evaluation"
    else:
        gate = f"threshold {summary.threshold} on overall {HEADLINE}"
        if summary.per_language_floor is not None:
            gate += f", per-language floor {summary.per_language_floor}"
        if summary.teacher_min_exact_match is not None:
            gate += f", teacher EM >= {summary.teacher_min_exact_match}"
        failed = (
            [f"overall {summary.overall.get(GATE, nan):.3f}"]
            if summary.overall.get(GATE, nan) < summary.threshold
            else []
        )
        if summary.per_language_floor is not None:
            failed += [
                f"{lang} {values.get(FLOOR_GATE, nan):.3f}"
                for lang, values in sorted(summary.per_language.items())
                if values.get(FLOOR_GATE, math.inf) < summary.per_language_floor
            ]
        if failed:
            gate += f"; below: {', '.join(failed)}"
        # A fraction of a weak teacher is not a result: say where the teacher is the reason.
        weak, above = teacher_failures(summary)
        if weak:
            gate += f"; teacher weak: {', '.join(weak)}"
        if above:
            gate += f"; {'; '.join(above)}"
    lines += format_stopping_points(summary.stopped)
    lines.append(f"{verdict} ({gate})")
    lines.append(f"pushed to: {summary.pushed_to}" if summary.pushed_to else "not pushed")
    return "\n".join(lines)
