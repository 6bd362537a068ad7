"""docs/results.md and the README's headline table, from the records in bench/results/.

Every benchmark appends one JSON line per measurement (its command, commit, machine, date and
numbers) to its file; nothing here measures. A table shows the newest record of each benchmark
or setting: the last line with that key in its file (files are append-only, so the last line is
the newest; older records stay in the data). Written by `python -m bench.docs`;
`tests/bench/test_docs.py` fails when a page is not what this module writes from the records.

| file | written by | key of "the same setting" |
|---|---|---|
| runs.jsonl | `python -m bench.runs` after a pipeline run | name |
| real.jsonl | `python -m bench.real --data DIR` | name and overrides |
| teacher.jsonl | `python -m bench.teacher --data DIR --name NAME` | name |
| ablation.jsonl | `python -m bench.ablate --name NAME` | name |
| holdout.jsonl | `python -m bench.holdout --name NAME` | name, variant and overrides |
| speed.json | `python -m bench.speed` (one record, rewritten) | - |
| device.jsonl | `python -m bench.device_agreement SERVING_DIR` | serving dir |
| serving.jsonl | `python -m bench.serving_speed SERVING_DIR` | - (the newest) |
| tests.jsonl | `python -m bench.suite [--target test-slow]` | command and note |
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from bench.common import INTENT_ROW_BUCKETS, SEEN, UNSEEN

RESULTS_DIR = "bench/results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
# The two rows of the README's headline: the embedded default's run, and the real-data benchmark.
HEADLINE_RUN = "embedded-default"
HEADLINE_REAL = "mtop"
LANGUAGES_ORDER = ("de", "en", "es", "fr", "hi", "th")
DASH = "–"


def read_records(path: str) -> List[Dict[str, Any]]:
    """The records of a JSONL file, in file order ([] when there is none)."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def newest(records: Iterable[Dict[str, Any]], key: Callable[[Dict[str, Any]], Any]) -> List[Dict[str, Any]]:
    """The last record of each key, in the order the keys first appear."""
    found: Dict[Any, Dict[str, Any]] = {}
    for record in records:
        k = key(record)
        if k in found:
            del found[k]  # keep the order of the newest records
        found[k] = record
    return list(found.values())


def _num(value: Optional[float], digits: int = 3) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


def _interval(values: Optional[List[Optional[float]]]) -> str:
    if not values or values[0] is None or values[1] is None:
        return ""
    return f" ({values[0]:.3f}{DASH}{values[1]:.3f})"


def _machine(machine: Optional[str]) -> str:
    """The machine without its host name and load: `2 CPU cores (Intel(R) Xeon(R) Processor), 0 GPU(s)`."""
    if not machine:
        return DASH
    text = machine.split(": ", 1)[-1]
    return re.sub(r", [A-Za-z]+(, load average [\d.]+)?$", "", text)


def _date(record: Dict[str, Any]) -> str:
    return (record.get("date") or DASH)[:10]


def _commit(record: Dict[str, Any]) -> str:
    return f"`{record['commit']}`" if record.get("commit") else "unknown"


def _setting(record: Dict[str, Any]) -> str:
    """What a record changed: its description, else its overrides (the work dir is no setting)."""
    if record.get("what"):
        return record["what"]
    overrides = [o for o in record.get("overrides") or [] if not o.startswith("project.work_dir=")]
    return ", ".join(f"`{o}`" for o in overrides) or "the defaults"


def _languages(*mappings: Optional[Dict[str, Any]]) -> List[str]:
    found = {lang for m in mappings if m for lang in m}
    return sorted(found, key=lambda lang: (LANGUAGES_ORDER.index(lang) if lang in LANGUAGES_ORDER else 99, lang))


def _table(header: List[str], rows: List[List[str]], right: Tuple[int, ...] = ()) -> List[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return lines


def _student_eval(record: Dict[str, Any]) -> str:
    """The student's and the teacher's exact match on eval (what selection saw), when recorded."""
    stopped = record.get("stopped") or {}
    student, teacher = stopped.get("student") or {}, stopped.get("teacher") or {}
    if student.get("eval_exact_match") is None:
        return DASH
    text = f"{student['eval_exact_match']:.4f}, kept epoch {student.get('kept_epoch', '?')}"
    if student.get("epochs_run"):
        text += f" of {student['epochs_run']}"
    if teacher.get("eval_exact_match"):
        fraction = student["eval_exact_match"] / teacher["eval_exact_match"]
        text += f" (teacher {teacher['eval_exact_match']:.4f}: {fraction:.3f})"
    return text


def _teacher_stop(record: Dict[str, Any]) -> str:
    teacher = (record.get("stopped") or {}).get("teacher") or {}
    if teacher.get("best_step") is None:
        return DASH
    return f"kept step {teacher['best_step']} of {teacher.get('last_step', '?')}: {teacher.get('reason', '?')}"


def _minutes(record: Dict[str, Any]) -> str:
    parts = []
    if record.get("minutes") is not None:
        parts.append(f"{record['minutes']:.1f} min")
    if record.get("pipeline_minutes") is not None:
        parts.append(f"pipeline {record['pipeline_minutes']:.1f} min")
    return ", ".join(parts) or DASH


def _per_language(record: Dict[str, Any]) -> List[str]:
    fractions = record.get("fraction_of_teacher_by_language") or {}
    intervals = record.get("fraction_of_teacher_interval_by_language") or {}
    rows_by = record.get("rows_by_language") or {}
    teacher = record.get("teacher_exact_match_by_language") or {}
    student = record.get("student_exact_match_by_language") or {}
    rows = [
        [
            lang,
            _num(rows_by.get(lang), 0),
            _num(teacher.get(lang)),
            _num(student.get(lang)),
            _num(fractions.get(lang)) + _interval(intervals.get(lang)),
        ]
        for lang in _languages(rows_by, fractions, teacher, student)
    ]
    return _table(
        ["language", "rows", "teacher EM", "student EM", "fraction of teacher (95 % interval)"], rows, (1, 2, 3)
    )


def _command(record: Dict[str, Any]) -> str:
    """The command as run: `make run` (fresh clone) (`--set a=b`)."""
    text = f"`{record.get('command') or DASH}`"
    if record.get("checkout"):
        text += f" ({record['checkout']})"
    if record.get("overrides") and "--set" not in (record.get("command") or ""):
        text += f" with `--set {' '.join(record['overrides'])}`"
    return text


def _run_facts(record: Dict[str, Any]) -> List[str]:
    facts = [
        ["command", _command(record)],
        ["commit", _commit(record)],
        ["machine", record.get("machine") or DASH],
        ["date", record.get("date") or DASH],
        ["run", f"`{record['run']}`" if record.get("run") else DASH],
        ["wall time", _minutes(record)],
        [
            "scored",
            f"{record.get('scored') or record.get('scored_split') or DASH}, "
            f"{_num(record.get('scored_split_rows'), 0)} rows",
        ],
        ["teacher exact match", _num(record.get("teacher_exact_match"))],
        ["student exact match", _num(record.get("student_exact_match"))],
        [
            "**fraction of teacher** (95 % interval)",
            f"**{_num(record.get('fraction_of_teacher'))}**{_interval(record.get('fraction_of_teacher_interval'))}",
        ],
        ["mean fraction over languages", _num(record.get("mean_fraction_over_languages"))],
        ["blessed", "yes" if record.get("blessed") else "no"],
        [
            "size ratio teacher fp32 / student int8",
            f"{record['size_ratio']:.0f}x" if record.get("size_ratio") else DASH,
        ],
        ["student on eval (exact match, kept epoch; teacher, fraction)", _student_eval(record)],
        ["teacher fine-tune", _teacher_stop(record)],
    ]
    if record.get("train_rows"):
        gold = f" ({record['gold_train_rows']:,} with gold labels)" if record.get("gold_train_rows") else ""
        facts.append(["student's train rows", f"{record['train_rows']:,}{gold}"])
    if record.get("note"):
        facts.append(["note", record["note"]])
    if record.get("source"):
        facts.append(["source", record["source"]])
    return _table(["", ""], facts)


def _losses(record: Dict[str, Any]) -> List[str]:
    """Where the student loses to the teacher on the scored split (`rows_lost`, `span_errors`)."""
    lost, spans = record.get("rows_lost"), record.get("span_errors")
    if not lost or not spans:
        return []
    rows = [
        [f"{label} {kind}", str(counts["student"][kind]), str(counts["teacher"][kind])]
        for label, counts in (("rows lost on", lost), ("slot spans:", spans))
        for kind in counts["student"]
    ]
    return [
        "",
        "Where the student loses to the teacher: the rows one gets exactly right and the other not, by what the "
        "other got wrong; the slot spans each gets wrong, by kind ([report.md](report.md)):",
        "",
    ] + _table(["", "student", "teacher"], rows, (1, 2))


def _stages(record: Dict[str, Any]) -> List[str]:
    stages = record.get("stage_seconds") or {}
    if not stages:
        return []
    rows = [[stage, _num(seconds, 1)] for stage, seconds in stages.items()]
    rows += [[stage, "cached"] for stage in record.get("cached") or []]
    return ["", "Seconds per stage:", ""] + _table(["stage", "seconds"], rows, (1,))


def _runs_section(results_dir: str) -> List[str]:
    records = read_records(os.path.join(results_dir, "runs.jsonl"))
    out = [
        "## Embedded default",
        "",
        "The whole pipeline on the embedded default (Home Assistant templates in six languages), scored by the "
        "Evaluator on the **test** split, which no training or selection reads. Records: "
        "[`runs.jsonl`](../bench/results/runs.jsonl), one per run (`python -m bench.runs` records the latest "
        "local run). The newest:",
        "",
    ]
    current = [r for r in newest(records, lambda r: r.get("name")) if r.get("name") == HEADLINE_RUN]
    if not current:
        return out + ["Not measured yet."]
    record = current[0]
    older = sum(1 for r in records if r.get("name") == HEADLINE_RUN) - 1
    out += _run_facts(record) + ["", "Per language:", ""] + _per_language(record) + _losses(record) + _stages(record)
    others = [r for r in newest(records, lambda r: r.get("name")) if r.get("name") != HEADLINE_RUN]
    if others:
        out += ["", "Other configurations (the newest record of each):", ""]
        out += _table(
            [
                "name",
                "setting",
                "fraction of teacher (95 % interval)",
                "mean over languages",
                "blessed",
                "commit",
                "date",
            ],
            [
                [
                    r.get("name", DASH),
                    _setting(r),
                    _num(r.get("fraction_of_teacher")) + _interval(r.get("fraction_of_teacher_interval")),
                    _num(r.get("mean_fraction_over_languages")),
                    "yes" if r.get("blessed") else "no",
                    _commit(r),
                    _date(r),
                ]
                for r in others
            ],
            (2, 3),
        )
    out += ["", f"{older} older records of the embedded default are in the file (other commits and machines)."]
    return out


def _records_link(results_dir: str, name: str) -> str:
    """A link to a records file, or its name while there is none yet."""
    if os.path.isfile(os.path.join(results_dir, name)):
        return f"[`{name}`](../bench/results/{name})"
    return f"`bench/results/{name}` (none yet)"


def _real_key(record: Dict[str, Any]) -> Tuple[str, Tuple[str, ...]]:
    return record.get("name", ""), tuple(record.get("overrides") or [])


def headline_real(results_dir: str) -> Optional[Dict[str, Any]]:
    """The newest real-data record of the headline's data set, run with the shipped defaults."""
    records = read_records(os.path.join(results_dir, "real.jsonl"))
    found = [r for r in records if r.get("name") == HEADLINE_REAL and not r.get("overrides")]
    return found[-1] if found else None


def _real_section(results_dir: str) -> List[str]:
    records = read_records(os.path.join(results_dir, "real.jsonl"))
    out = [
        "## Real data",
        "",
        "The whole pipeline on labelled files of your own (`python -m bench.real --data DIR`, shipped defaults "
        "plus `data.*`): DIR holds `train.jsonl` and `eval.jsonl` (optionally `test.jsonl`); without a test file "
        "`eval.jsonl` is the scored split, which nothing selects on, and a tenth of the train groups is the split "
        "training stops on. Records: " + _records_link(results_dir, "real.jsonl") + ".",
        "",
    ]
    record = headline_real(results_dir)
    if record is None:
        out += [
            f"**{HEADLINE_REAL.upper()}: not measured yet.** `python -m bench.real --data DIR --name {HEADLINE_REAL}` "
            "with MTOP's six languages as JSONL writes its record.",
        ]
    else:
        out += [f"The newest `{HEADLINE_REAL}` record with the shipped defaults:", ""]
        out += _run_facts(record) + ["", "Per language:", ""] + _per_language(record) + _losses(record)
        out += _stages(record)
    current = newest(records, _real_key)
    if current:
        out += ["", "Every data set and setting (the newest record of each):", ""]
        out += _table(
            [
                "name",
                "setting",
                "scored",
                "teacher EM",
                "student EM",
                "fraction of teacher (95 % interval)",
                "mean over languages",
                "blessed",
                "minutes",
                "commit",
                "machine",
                "date",
            ],
            [
                [
                    r.get("name", DASH),
                    _setting(r),
                    r.get("scored", DASH),
                    _num(r.get("teacher_exact_match")),
                    _num(r.get("student_exact_match")),
                    _num(r.get("fraction_of_teacher")) + _interval(r.get("fraction_of_teacher_interval")),
                    _num(r.get("mean_fraction_over_languages")),
                    "yes" if r.get("blessed") else "no",
                    _num(r.get("minutes"), 1),
                    _commit(r),
                    _machine(r.get("machine")),
                    _date(r),
                ]
                for r in current
            ],
            (3, 4, 5, 6, 8),
        )
    return out + _real_utterance_curve(records)


def _real_utterance_curve(records: List[Dict[str, Any]]) -> List[str]:
    """The student against the real utterances it learns from: the newest `--train-groups`
    record of each fraction and setting, with the whole-train record of the same setting
    measured by the last of them (a later one measures a later student), fewest rows first."""

    def overrides(r: Dict[str, Any]) -> Tuple[str, ...]:
        # --rest-unlabelled changes the data as an override would: its points are another setting.
        return tuple(r.get("overrides") or []) + (("--rest-unlabelled",) if r.get("rest_unlabelled") else ())

    last_subsampled: Dict[Tuple[str, ...], str] = {}
    for r in records:
        if (r.get("train_groups_fraction") or 1.0) < 1.0:
            setting = overrides(r)
            last_subsampled[setting] = max(last_subsampled.get(setting, ""), r.get("date", ""))
    measured = [
        r
        for r in records
        if r.get("train_rows")
        and overrides(r) in last_subsampled
        and r.get("date", "") <= last_subsampled[overrides(r)]
    ]
    points = newest(measured, lambda r: (overrides(r), r.get("train_groups_fraction") or 1.0))
    if not points:
        return []
    out = [
        "",
        "### Against real utterances",
        "",
        "The same benchmark on a fraction of the train groups (`--train-groups F`, the smaller fraction's groups "
        "a subset of the larger's; the stopping split and the scored file stay the same), everything else as set. "
        "Augmentation scales each fraction's rows up as it would for a user with that much data.",
        "",
    ]
    rows = [
        [
            r.get("name", DASH),
            _setting(r),
            _num(r.get("train_groups_fraction") or 1.0, 2),
            _num(r.get("train_rows"), 0),
            _num(r.get("teacher_exact_match")),
            _num(r.get("student_exact_match")),
            _num(r.get("fraction_of_teacher")) + _interval(r.get("fraction_of_teacher_interval")),
            _num(r.get("mean_fraction_over_languages")),
            _commit(r),
        ]
        for r in sorted(points, key=lambda r: (overrides(r), r["train_rows"]))
    ]
    header = ["name", "setting", "train groups", "train rows", "teacher EM", "student EM"]
    header += ["fraction of teacher (95 % interval)", "mean over languages", "commit"]
    return out + _table(header, rows, (2, 3, 4, 5, 6, 7))


def _teacher_section(results_dir: str) -> List[str]:
    records = newest(read_records(os.path.join(results_dir, "teacher.jsonl")), lambda r: r.get("name"))
    out = [
        "## Teacher fine-tune",
        "",
        "Teacher settings on labelled files (`python -m bench.teacher --data DIR --name NAME --set ...`): the "
        "fine-tune stops on the stopping split and is scored on the file nothing selects on. Exact match per "
        "language and its mean over languages; each record holds its whole command and eval curve. Records: "
        "[`teacher.jsonl`](../bench/results/teacher.jsonl).",
        "",
    ]
    if not records:
        return out + ["Not measured yet."]
    languages = _languages(*(r.get("by_language") for r in records))
    languages = [lang for lang in languages if lang != "all"]
    rows = []
    for r in records:
        by = r.get("by_language") or {}
        rows.append(
            [
                r.get("name", DASH),
                _setting(r),
                f"{r.get('data', DASH)} {r.get('scored', '')}".strip(),
                _num(r.get("mean_exact_match_over_languages")),
                *[_num((by.get(lang) or {}).get("exact_match")) for lang in languages],
                _num(r.get("stopping_split_exact_match")),
                _teacher_stop({"stopped": {"teacher": r.get("stopped")}}),
                _commit(r),
                _date(r),
            ]
        )
    header = ["name", "overrides", "scored", "EM, mean over languages", *languages, "stopping split EM", "stopped"]
    right = tuple(range(3, 4 + len(languages) + 1))
    return out + _table(header + ["commit", "date"], rows, right)


def _epochs(record: Dict[str, Any]) -> Optional[int]:
    """An ablation's epoch budget, or the epochs its curve has."""
    return record.get("epochs") or len(record.get("eval_exact_match_per_epoch") or []) or None


def _ablation_section(results_dir: str) -> List[str]:
    records = newest(read_records(os.path.join(results_dir, "ablation.jsonl")), lambda r: r.get("name"))
    out = [
        "## Student ablations (eval split)",
        "",
        "The Trainer's training on a finished run's soft labels with overrides (`python -m bench.ablate --name NAME "
        "--set ...`), selected and scored on **eval** only, so defaults can be chosen with it. Records: "
        "[`ablation.jsonl`](../bench/results/ablation.jsonl).",
        "",
    ]
    if not records:
        return out + ["Not measured yet."]
    rows = []
    for r in records:
        rows.append(
            [
                _setting(r),
                f"`{r['run']}`" if r.get("run") else DASH,
                _num(r.get("train_rows"), 0),
                _num(_epochs(r), 0),
                _num(r.get("kept_epoch"), 0),
                _num(r.get("student_eval_exact_match"), 4),
                _num(r.get("teacher_eval_exact_match"), 4),
                _num(r.get("eval_fraction_of_teacher")),
                _commit(r),
                _date(r),
            ]
        )
    header = ["setting", "soft labels of run", "train rows", "epochs", "kept epoch", "student eval EM"]
    header += ["teacher eval EM", "eval fraction of teacher", "commit", "date"]
    slices = _learning_curve(records) + _word_coverage(records) + _intent_rows(records)
    return out + _table(header, rows, (2, 3, 4, 5, 6, 7)) + slices


def _word_coverage(records: List[Dict[str, Any]]) -> List[str]:
    """The ablations that split eval by whether the student can have seen every word of a row."""
    points = [r for r in records if r.get("student_eval_exact_match_by_word_coverage")]
    if not points:
        return []
    out = [
        "",
        "### Seen and unseen words",
        "",
        "Eval rows whose every word is in a gold training row of their language, and rows with an unseen word "
        "(`bench.ablate` records both): the student's exact match, the teacher's, and the fraction of teacher on each.",
        "",
    ]
    rows = []
    for r in points:
        student = r["student_eval_exact_match_by_word_coverage"]
        teacher = r.get("teacher_eval_exact_match_by_word_coverage") or {}
        row = [r.get("name", DASH), _setting(r)]
        for slice_name in (SEEN, UNSEEN):
            s, t = student.get(slice_name), teacher.get(slice_name)
            row += [_num(s), _num(t), _num(s / t if s is not None and t else None)]
        rows.append(row + [_commit(r)])
    header = ["name", "setting", "seen: student", "seen: teacher", "seen: fraction"]
    header += ["unseen: student", "unseen: teacher", "unseen: fraction", "commit"]
    return out + _table(header, rows, (2, 3, 4, 5, 6, 7))


def _intent_rows(records: List[Dict[str, Any]]) -> List[str]:
    """The ablations that split eval by the gold training rows of each row's intent."""
    points = [r for r in records if r.get("student_eval_intent_accuracy_by_intent_train_rows")]
    if not points:
        return []
    buckets = [name for name, _ in INTENT_ROW_BUCKETS]
    out = [
        "",
        "### Rare intents",
        "",
        "Eval rows by how many gold training rows (all languages) their intent has (`bench.ablate` records it): "
        "the student's intent accuracy and the teacher's on each.",
        "",
    ]
    rows = []
    for r in points:
        student = r["student_eval_intent_accuracy_by_intent_train_rows"]
        teacher = r.get("teacher_eval_intent_accuracy_by_intent_train_rows") or {}
        row = [r.get("name", DASH), _setting(r)]
        for bucket in buckets:
            row += [f"{_num(student.get(bucket))} / {_num(teacher.get(bucket))}"]
        rows.append(row + [_commit(r)])
    header = ["name", "setting"] + [f"{bucket} rows: student / teacher" for bucket in buckets] + ["commit"]
    return out + _table(header, rows, (2, 3, 4, 5))


def _learning_curve(records: List[Dict[str, Any]]) -> List[str]:
    """Student eval EM against the teacher-labelled rows it trained on: the ablations that
    subsample one run's augmented rows (`--augmented-fraction`) and change nothing else but the
    epoch budget (no method's rows left out), per run, fewest rows first."""
    points = [
        r
        for r in records
        if r.get("augmented_fraction") is not None
        and r.get("augmented_train_rows")
        and not any((r.get("left_out_rows") or {}).values())
        and all(o.startswith("training.epochs=") for o in r.get("overrides") or [])
    ]
    if not points:
        return []
    out = [
        "",
        "### Learning curve",
        "",
        "Student eval exact match against the number of teacher-labelled rows: each point trains on every gold "
        "row and a fraction of one run's augmented rows (`--augmented-fraction`), the larger fraction's rows a "
        "superset of the smaller's; nothing else differs within a run's rows.",
        "",
    ]
    rows = []
    for r in sorted(points, key=lambda r: (str(r.get("run")), r["augmented_train_rows"])):
        rows.append(
            [
                f"`{r['run']}`" if r.get("run") else DASH,
                r.get("name", DASH),
                _num(r.get("gold_train_rows"), 0),
                _num(r.get("augmented_train_rows"), 0),
                _num(_epochs(r), 0),
                _num(r.get("student_eval_exact_match"), 4),
                _num(r.get("eval_fraction_of_teacher")),
            ]
        )
    header = ["soft labels of run", "name", "gold rows", "teacher-labelled new rows", "epochs", "student eval EM"]
    return out + _table(header + ["eval fraction of teacher"], rows, (2, 3, 4, 5, 6))


def _holdout_section(results_dir: str) -> List[str]:
    records = newest(
        read_records(os.path.join(results_dir, "holdout.jsonl")),
        lambda r: (r.get("name"), r.get("variant"), tuple(r.get("overrides") or [])),
    )
    out = [
        "## Held-out templates",
        "",
        "A share of one language's *training* templates held out, augmentation and soft labels rebuilt without "
        "them, the student trained as the Trainer trains it and scored on the held-out rows "
        "(`python -m bench.holdout --name NAME --lang hi --fraction 0.3 [--without METHOD] [--set ...]`); test is "
        "never read. Each pair of rows shares a run's dataset and teacher. Records: "
        "[`holdout.jsonl`](../bench/results/holdout.jsonl).",
        "",
    ]
    if not records:
        return out + ["Not measured yet."]
    rows = []
    for r in records:
        lang = r.get("lang", "?")
        by = r.get("student_eval_exact_match_by_language") or {}
        rows.append(
            [
                f"`{r['run']}`" if r.get("run") else DASH,
                r.get("variant", DASH) + ("; " + _setting(r) if r.get("overrides") else ""),
                f"{lang}: {r.get('held_out_templates', '?')} templates, {_num(r.get('held_out_rows'), 0)} rows",
                _num(r.get("student_held_out_exact_match")),
                _num(r.get("student_eval_exact_match"), 4),
                _num(by.get(lang)),
                _commit(r),
                _machine(r.get("machine")),
                _date(r),
            ]
        )
    header = [
        "dataset and teacher of run",
        "augmentation",
        "held out",
        "held-out EM",
        "eval EM",
        "eval EM, that language",
    ]
    return out + _table(header + ["commit", "machine", "date"], rows, (3, 4, 5))


SPEED_FIGURES = [
    ("trainer_examples_per_s", "trainer throughput (examples/s, the whole schedule)", 1),
    ("trainer_float_examples_per_s", "trainer, float steps (examples/s)", 1),
    ("trainer_qat_examples_per_s", "trainer, quantization-aware steps (examples/s)", 1),
    ("trainer_utilisation", "trainer MAC/s over a large fp32 matmul's MAC/s", 2),
    ("student_latency_p50_ms", "student single query p50 (ms; int8 TFLite + NumPy projection, raw text)", 3),
    ("student_latency_p50_ms_litert", "student p50, side by side: on LiteRT (ms)", 3),
    ("student_latency_p50_ms_tf_lite", "student p50, side by side: on tf.lite.Interpreter (ms)", 3),
    ("teacher_latency_p50_ms", "teacher single query p50 (ms; fp32 PyTorch, words)", 2),
    ("latency_ratio", "latency ratio teacher / student", 1),
    ("plain_rows_per_s", "teacher inference, plain transformers loop (rows/s)", 1),
    ("beam_rows_per_s", "teacher inference, Beam job in steady state (rows/s)", 1),
    ("beam_plain_ratio", "ratio Beam job / plain loop, steady state", 2),
    ("beam_plain_ratio_end_to_end", "ratio Beam job / plain loop, end to end", 2),
]


def _speed_section(results_dir: str) -> List[str]:
    path = os.path.join(results_dir, "speed.json")
    out = [
        "## Speed",
        "",
        "`python -m bench.speed` measures every speed figure in one process on the machine at hand (inputs from the "
        "latest pipeline run, else made up); it rewrites [`speed.json`](../bench/results/speed.json). "
        "See [speed.md](speed.md) for what each figure measures.",
        "",
    ]
    if not os.path.isfile(path):
        return out + ["Not measured yet."]
    with open(path, encoding="utf-8") as f:
        speed = json.load(f)
    out += [
        f"Measured {speed.get('measured', DASH)} on {speed.get('machine', DASH)}, on the inputs of run "
        f"`{speed.get('run', DASH)}` ({speed.get('teacher_rows', '?')} teacher-inference rows, batch "
        f"{speed.get('teacher_batch_size', '?')}, {speed.get('teacher_inference_device', '?')}).",
        "",
    ]
    rows = [[label, _num(speed.get(key), digits)] for key, label, digits in SPEED_FIGURES if key in speed]
    out += _table(["figure", "value"], rows, (1,))
    others = [
        ("bench.student_benchmark", "student.md"),
        ("bench.teacher_inference_benchmark", "teacher_inference.md"),
        ("bench.run_all", "pipeline.md"),
    ]
    out += [
        "",
        "Tables the other speed commands write, each naming its machine: "
        + ", ".join(f"[`{name}`](../bench/results/{name}) (`python -m {command}`)" for command, name in others)
        + ".",
    ]
    return out


def _code(text: str) -> str:
    """A text as an inline code span, control characters escaped as in JSON."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    return f"`` {escaped} ``" if "`" in escaped else f"`{escaped}`"


def _answer(answer: Dict[str, Any]) -> str:
    return f"{answer['intent']}: {' '.join(answer['slot_tags']) or '(no words)'}"


def _device_section(results_dir: str) -> List[str]:
    records = newest(read_records(os.path.join(results_dir, "device.jsonl")), lambda r: r.get("serving_dir"))
    out = [
        "## The student on a device",
        "",
        "`python -m bench.device_agreement SERVING_DIR`: every golden utterance (device/golden_texts.py: six "
        "languages, edge cases, invalid UTF-8, random text and bytes; and the folder's `device_golden.jsonl`) "
        "through the C projection (device/) and the int8 encoder in LiteRT, against the TF projection through "
        "the same int8 encoder (int8 against int8: the bar is 99.5 %) and against the SavedModel (float, "
        "quantization-aware). Records: " + _records_link(results_dir, "device.jsonl") + ".",
        "",
    ]
    if not records:
        out.append("Not measured yet.")
    else:
        rows = [
            [
                f"`{r.get('serving_dir', DASH)}`",
                _num(r.get("utterances"), 0),
                _num(r.get("features_identical"), 0),
                f"**{_num(100 * r['int8_agreement'], 1)} %**" if r.get("int8_agreement") is not None else DASH,
                _num(100 * r["saved_model_agreement"], 1) + " %"
                if r.get("saved_model_agreement") is not None
                else DASH,
                _commit(r),
                _machine(r.get("machine")),
                _date(r),
            ]
            for r in records
        ]
        header = ["student", "utterances", "C features identical", "C → LiteRT = TF → LiteRT (int8)"]
        out += _table(header + ["C → LiteRT = SavedModel", "commit", "machine", "date"], rows, (1, 2, 3, 4))
        record = records[-1]
        by_source = record.get("saved_model_agreement_by_source") or {}
        if by_source:
            shares = ", ".join(f"{source} {100 * share:.1f} %" for source, share in by_source.items())
            out += ["", f"Against the SavedModel by source (newest record): {shares}."]
        for key, other, column, title in (
            ("int8_disagreements", "tf_litert", "TF → LiteRT", "C → LiteRT and TF → LiteRT"),
            ("saved_model_disagreements", "saved_model", "SavedModel", "C → LiteRT (int8) and the SavedModel (float)"),
        ):
            differ = record.get(key) or []
            out += ["", f"Where {title} differ in the newest record: {len(differ) or 'none'}."]
            if differ:
                rows = [[d["source"], _code(d["text"]), _answer(d["c_litert"]), _answer(d[other])] for d in differ]
                out += [""] + _table(["source", "text", "C → LiteRT", column], rows)
    serving = read_records(os.path.join(results_dir, "serving.jsonl"))
    out += [
        "",
        "`python -m bench.serving_speed SERVING_DIR`: `FastStudent` (NumPy projection + int8 encoder) on LiteRT "
        "and on TensorFlow's `tf.lite.Interpreter`, the same model and queries, interleaved, in one process; and "
        "what a service on each installs. Records: " + _records_link(results_dir, "serving.jsonl") + ".",
        "",
    ]
    if not serving:
        return out + ["Not measured yet."]
    r = serving[-1]
    facts = [
        ["command", _command(r)],
        ["commit, machine, date", f"{_commit(r)}, {r.get('machine', DASH)}, {r.get('date', DASH)}"],
        ["queries x rounds", f"{r.get('serving_queries', '?')} x {r.get('serving_rounds', '?')}"],
        [
            "student p50 / p90 on LiteRT (ms)",
            f"**{_num(r.get('student_latency_p50_ms_litert'))}** / {_num(r.get('student_latency_p90_ms_litert'))}",
        ],
        [
            "student p50 / p90 on tf.lite.Interpreter (ms)",
            f"{_num(r.get('student_latency_p50_ms_tf_lite'))} / {_num(r.get('student_latency_p90_ms_tf_lite'))}",
        ],
        [
            "encoder alone p50, LiteRT / tf.lite (ms)",
            f"{_num(r.get('encoder_latency_p50_ms_litert'))} / {_num(r.get('encoder_latency_p50_ms_tf_lite'))}",
        ],
        ["p50 tf.lite / LiteRT", f"{_num(r.get('litert_speedup_p50'), 2)}x"],
        ["identical logits", "yes" if r.get("identical_logits") else "no"],
        [
            "installed: numpy + ai-edge-litert / tensorflow (MB)",
            f"{_num(r.get('service_install_mb_litert'), 0)} / {_num(r.get('service_install_mb_tensorflow'), 0)}",
        ],
    ]
    return out + _table(["", ""], facts)


def _tests_section(results_dir: str) -> List[str]:
    records = newest(
        read_records(os.path.join(results_dir, "tests.jsonl")), lambda r: (r.get("command"), r.get("note"))
    )
    out = [
        "## Test suite",
        "",
        "`python -m bench.suite` runs `make test` (`--target test-slow`: `make test-slow`) as the README runs it "
        "and records its wall time, its outcomes and its slowest tests (setup, call and teardown together); "
        "`--target ci` times `.ci/run` whole, cold (setup included) in a fresh clone. Only a "
        "run on an otherwise idle machine is a timing; the note says what else ran. Records: "
        + _records_link(results_dir, "tests.jsonl")
        + ".",
        "",
    ]
    if not records:
        return out + ["Not measured yet."]
    rows = [
        [
            f"`{r.get('command', DASH)}`" + (" (cold)" if r.get("cold") else ""),
            r.get("note", DASH),
            f"**{r['minutes']:.1f}**" if r.get("minutes") is not None else DASH,
            f"{r.get('passed', 0)} passed, {r.get('failed', 0) + r.get('errors', 0)} failed, "
            f"{r.get('skipped', 0)} skipped"
            if "passed" in r
            else f"exit code {r.get('exit_code', DASH)}",
            _num((r.get("slowest") or [{}])[0].get("seconds"), 0),
            _commit(r),
            _machine(r.get("machine")),
            _date(r),
        ]
        for r in records
    ]
    out += _table(["command", "beside it", "minutes", "tests", "slowest test (s)", "commit", "machine", "date"], rows)
    for r in records:
        if r.get("slowest"):
            out += ["", f"Slowest tests of `{r['command']}` ({r.get('note', DASH)}, {_commit(r)}):", ""]
            out += _table(["test", "seconds"], [[f"`{c['test']}`", _num(c["seconds"], 1)] for c in r["slowest"]], (1,))
    return out


def render_results(results_dir: str = RESULTS_DIR) -> str:
    """docs/results.md."""
    out = [
        "# Results",
        "",
        "<!-- Generated by `python -m bench.docs` from bench/results/; do not edit: add a record, then run it. -->",
        "",
        "Every number here is a record in [`bench/results/`](../bench/results/): one JSON line per measurement with "
        "its command, commit, machine and date. Each table shows the newest record of each benchmark or setting "
        "(the last line with that name in its file); the older records stay in the files. `python -m bench.docs` "
        "writes this page and the README's headline table from the records.",
        "",
    ]
    for section in (_runs_section, _real_section, _teacher_section, _ablation_section, _holdout_section):
        out += section(results_dir) + [""]
    out += _speed_section(results_dir) + [""] + _device_section(results_dir) + [""] + _tests_section(results_dir)
    return "\n".join(out) + "\n"


def render_headline(results_dir: str = RESULTS_DIR) -> str:
    """The README's headline table (what goes between its `results` markers)."""
    runs = read_records(os.path.join(results_dir, "runs.jsonl"))
    run = next((r for r in reversed(runs) if r.get("name") == HEADLINE_RUN), None)
    real = headline_real(results_dir)
    header = [
        "benchmark",
        "scored on",
        "teacher EM",
        "student EM",
        "fraction of teacher (95 % interval)",
        "mean over languages",
        "blessed",
        "command, machine",
        "measured",
    ]

    def row(label: str, record: Optional[Dict[str, Any]], command: str, anchor: str) -> List[str]:
        link = f"[results](docs/results.md#{anchor})"
        if record is None:
            return [label, DASH, DASH, DASH, "not measured yet", DASH, DASH, f"`{command}`", link]
        scored = record.get("scored") or record.get("scored_split") or DASH
        rows = record.get("scored_split_rows")
        return [
            label,
            f"{scored}, {int(rows):,} rows" if rows else scored,
            _num(record.get("teacher_exact_match")),
            _num(record.get("student_exact_match")),
            f"**{_num(record.get('fraction_of_teacher'))}**{_interval(record.get('fraction_of_teacher_interval'))}",
            _num(record.get("mean_fraction_over_languages")),
            "yes" if record.get("blessed") else "no",
            ", ".join(
                [_command(record)]
                + ([f"{record['minutes']:.1f} min"] if record.get("minutes") is not None else [])
                + ([f"{len(record['cached'])} stages from the cache"] if record.get("cached") else [])
                + [_machine(record.get("machine"))]
            ),
            f"{_date(record)}, {_commit(record)}: {link}",
        ]

    rows = [
        row("embedded default", run, "make run", "embedded-default"),
        row(
            f"real data: {HEADLINE_REAL.upper()}",
            real,
            f"python -m bench.real --data DIR --name {HEADLINE_REAL}",
            "real-data",
        ),
    ]
    return "\n".join(_table(header, rows, (2, 3, 4, 5))) + "\n"


def replace_block(text: str, block: str) -> str:
    """`text` with what lies between the results markers replaced by `block`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} block")
    return text[: start + len(BEGIN)] + "\n" + block + text[end:]
