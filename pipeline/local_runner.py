"""Run the pipeline locally with LocalDagRunner (sqlite MLMD under the work dir, caching on),
then summarise the run from MLMD and TFMA."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from tfx import v1 as tfx

from pipeline.config import Config
from pipeline.pipeline import create_pipeline

HEADLINE = "fraction_of_teacher_exact_match"


@dataclass
class RunPaths:
    pipeline_root: str
    metadata_path: str
    serving_dir: str


def run_paths(config: Config) -> RunPaths:
    root = config.project.work_dir
    return RunPaths(
        pipeline_root=os.path.join(root, "pipeline_root"),
        metadata_path=os.path.join(root, "metadata", "metadata.sqlite"),
        serving_dir=config.push.serving_dir,
    )


def run_local(config: Config) -> float:
    """Run the whole pipeline; returns the wall time in seconds."""
    paths = run_paths(config)
    os.makedirs(os.path.dirname(paths.metadata_path), exist_ok=True)
    pipeline = create_pipeline(
        config,
        pipeline_root=paths.pipeline_root,
        serving_dir=paths.serving_dir,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata_path),
    )
    started = time.time()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return time.time() - started


@dataclass
class RunSummary:
    blessed: bool
    threshold: float
    overall: Dict[str, float]
    per_language: Dict[str, Dict[str, float]]
    teacher_bytes: int
    student_int8_bytes: int
    pushed_to: Optional[str]

    @property
    def size_ratio(self) -> float:
        return self.teacher_bytes / self.student_int8_bytes if self.student_int8_bytes else float("nan")


def weight_bytes(path: str, suffixes=(".safetensors", ".bin", ".pt")) -> int:
    """Bytes of the weight files under `path` (a Hugging Face model folder)."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(suffixes))
    return total


def _metric_values(metrics) -> Dict[str, float]:
    values = metrics.get("", {}).get("", {})
    return {k: float(v.get("doubleValue", "nan")) for k, v in values.items() if isinstance(v, dict)}


def summarize(config: Config) -> RunSummary:
    """What the latest run produced, found through MLMD (not by guessing paths)."""
    import ml_metadata as mlmd
    import tensorflow_model_analysis as tfma

    paths = run_paths(config)
    store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata_path))
    runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    if not runs:
        raise RuntimeError(f"no pipeline run in {paths.metadata_path}")
    artifacts = store.get_artifacts_by_context(runs[-1].id)
    types = {t.id: t.name for t in store.get_artifact_types()}

    def latest(type_name: str):
        found = [a for a in artifacts if types[a.type_id] == type_name]
        return max(found, key=lambda a: a.create_time_since_epoch) if found else None

    evaluation, blessing, pushed = latest("ModelEvaluation"), latest("ModelBlessing"), latest("PushedModel")
    models = sorted((a for a in artifacts if types[a.type_id] == "Model"), key=lambda a: a.create_time_since_epoch)
    overall: Dict[str, float] = {}
    per_language: Dict[str, Dict[str, float]] = {}
    if evaluation is not None:
        result = tfma.load_eval_result(evaluation.uri)
        for slice_key, metrics in result.slicing_metrics:
            values = _metric_values(metrics)
            if slice_key == ():
                overall = values
            elif len(slice_key) == 1 and slice_key[0][0] == "lang":
                lang = slice_key[0][1]
                per_language[lang.decode() if isinstance(lang, bytes) else str(lang)] = values
    student_bytes = 0
    teacher_bytes = 0
    for model in models:
        tflite = [os.path.join(r, f) for r, _, fs in os.walk(model.uri) for f in fs if f.endswith(".tflite")]
        if tflite:
            student_bytes = os.path.getsize(tflite[0])
        else:
            teacher_bytes = weight_bytes(model.uri)
    pushed_to = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value == 1:
        pushed_to = pushed.custom_properties["pushed_destination"].string_value
    return RunSummary(
        blessed=bool(blessing is not None and blessing.custom_properties["blessed"].int_value == 1),
        threshold=config.evaluation.fraction_of_teacher_threshold,
        overall=overall,
        per_language=per_language,
        teacher_bytes=teacher_bytes,
        student_int8_bytes=student_bytes,
        pushed_to=pushed_to,
    )


def format_summary(summary: RunSummary) -> str:
    lines = ["", "language   teacher EM   student EM   fraction of teacher"]
    rows = sorted(summary.per_language.items()) + [("all", summary.overall)]
    for lang, values in rows:
        lines.append(
            f"{lang:<10} {values.get('teacher_exact_match', float('nan')):>10.3f}   {values.get('student_exact_match', float('nan')):>10.3f}"
            f"   {values.get(HEADLINE, float('nan')):>19.3f}"
        )
    langs: List[Dict[str, float]] = list(summary.per_language.values())
    if langs:
        mean = sum(v.get(HEADLINE, float("nan")) for v in langs) / len(langs)
        lines.append(f"mean fraction of teacher over languages: {mean:.3f}")
    lines.append(
        f"size: teacher fp32 {summary.teacher_bytes / 1e6:.1f} MB, student int8 {summary.student_int8_bytes / 1e6:.2f} MB"
        f" -> {summary.size_ratio:.0f}x smaller"
    )
    verdict = "BLESSED" if summary.blessed else "NOT BLESSED"
    lines.append(f"{verdict} (threshold {summary.threshold} on overall {HEADLINE})")
    lines.append(f"pushed to: {summary.pushed_to}" if summary.pushed_to else "not pushed")
    return "\n".join(lines)
