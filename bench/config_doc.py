"""docs/configuration.md from the config dataclasses and pipeline.yaml: every key, its value in
pipeline.yaml, its default when a file leaves it out, and what it does.

What a key does comes from the comments next to it: the comment above its field in the
dataclass that owns it (`pipeline.config.Config` and the sections it combines), the comment
on its line in pipeline.yaml, and, for the few keys neither explains, `EXTRA` below. Written by
`python -m bench.docs`; `tests/bench/test_docs.py` fails when the page is not what this module
writes now.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import textwrap
import typing
from typing import Any, Dict, Iterator, List, Literal, Tuple

import yaml

# Keys no comment explains (neither in the dataclass nor in pipeline.yaml).
EXTRA = {
    "project.name": "The pipeline's name: MLMD contexts, folders and Kubeflow pipelines are named by it.",
    "project.seed": "Seeds the sampler, the split hash, augmentation, training and the bootstrap.",
    "data.source": "Where the labelled rows come from: the embedded Home Assistant templates or your files in "
    "`data.paths` in one of three formats.",
    "data.languages": "The languages kept: for home_assistant the templates' languages; for your files, rows of "
    "another language are dead-lettered as `language_not_selected` (`[]` keeps every language).",
    "data.home_assistant.samples_per_template": "Distinct utterances sampled per template.",
    "data.home_assistant.skip_wildcards": "Templates that need a wildcard list ({message}, {search_query}, "
    "{timer_name}, ...) are skipped and counted in summary.json (`templates_skipped`).",
    "data.split.train": "Fraction of the groups in train (a hash of the group id).",
    "data.split.eval": "Fraction of the groups in eval.",
    "data.split.test": "Fraction of the groups in test.",
    "data.max_line_bytes": "A longer input line is dead-lettered (`line_too_long`).",
    "data.max_tokens": "A row with more word tokens is dead-lettered (`too_many_tokens`); augmentation candidates too.",
    "augmentation.slot_resample": "Slot values swapped for values seen in training for the same slot and language.",
    "augmentation.word_dropout": "Rows with a word dropped.",
    "augmentation.word_swap": "Rows with two neighbouring words swapped.",
    "augmentation.char_distortion": "Rows with characters distorted.",
    "augmentation.cross_lingual_neighbours": "Candidate translations per word in the induced lexicon; each "
    "translated word takes one of them at random.",
    "augmentation.max_scale": "The most the amounts are scaled up by (see `min_train_rows`).",
    "augmentation.round_trip.routes": "Round-trip routes: a language, its pivot and two local seq2seq folders.",
    "augmentation.enabled": "false: no augmentation (the `data.unlabeled` rows are still added).",
    "augmentation.round_trip.num_beams": "Beam search width of the round-trip translation models.",
    "augmentation.round_trip.batch_size": "Rows per batch of the round-trip translation models.",
    "augmentation.round_trip.routes[].lang": "Rows of this language are paraphrased.",
    "augmentation.round_trip.routes[].pivot": "The language translated through.",
    "augmentation.round_trip.routes[].to_pivot": "Local Hugging Face seq2seq folder: lang -> pivot.",
    "augmentation.round_trip.routes[].from_pivot": "Local Hugging Face seq2seq folder: pivot -> lang.",
    "teacher.cache_dir": "Where converted teacher bases are kept (multilingual-e5-small is built there on first use).",
    "teacher.finetune.eval_every_steps": "Evaluate on the eval split every this many steps.",
    "teacher.finetune.min_delta": "The least gain in eval exact match that counts as a gain.",
    "teacher.finetune.max_minutes": "A wall-clock budget of the fine-tune (0: none).",
    "teacher.finetune.patience": "Evaluations without a gain of `min_delta` before the fine-tune stops.",
    "teacher.finetune.learning_rate": "Peak learning rate of the encoder (AdamW).",
    "teacher.finetune.batch_size": "Train rows per step.",
    "teacher.finetune.warmup_ratio": "Share of `max_steps` over which the learning rate warms up.",
    "teacher.finetune.weight_decay": "AdamW weight decay.",
    "teacher.finetune.eval_batch_size": "Rows per batch when evaluating.",
    "teacher.inference.min_batch_size": "Smallest batch of teacher inference (rows of similar length are batched "
    "together).",
    "teacher.inference.max_batch_size": "Largest batch of teacher inference.",
    "teacher.inference.device": "Where teacher inference runs (auto: a GPU when there is one).",
    "student.projection.distortion_probability": "Probability of a character edit per token in training.",
    "student.qrnn.num_layers": "Bidirectional QRNN layers.",
    "student.qrnn.zoneout_probability": "Zoneout of the QRNN state in training.",
    "student.max_tokens": "Most tokens per row the student reads.",
    "distillation.temperature": "Softmax temperature of the teacher's and the student's distributions in the "
    "distillation loss.",
    "training.patience": "Epochs without a gain of `min_delta` before the float phase ends.",
    "training.min_delta": "The least gain in validation exact match that counts as a gain.",
    "training.lr_decay_steps": "Steps between two learning-rate decays.",
    "student.projection.add_bos_eos": "Add begin/end-of-sentence marker tokens around each row.",
    "student.bottleneck_size": "Width of the dense layer after the projection.",
    "student.qrnn.state_size": "Hidden units of each QRNN direction.",
    "student.qrnn.kernel_width": "Width of the QRNN's convolutions (tokens).",
    "student.batch_norm_momentum": "Momentum of the moving statistics of batch norm.",
    "distillation.intent_weight": "Weight of the intent loss.",
    "distillation.slot_weight": "Weight of the slot-tag loss.",
    "training.batch_size": "Rows per training step.",
    "training.learning_rate": "Initial learning rate (Adam), decayed by `lr_decay_rate` every `lr_decay_steps`.",
    "training.lr_decay_rate": "Factor applied every `lr_decay_steps` steps.",
    "evaluation.bootstrap_samples": "Resamples of the paired bootstrap behind every interval (0: no intervals).",
    "push.serving_dir": "Where a blessed student is pushed locally (`<serving_dir>/<version>`).",
    "beam.profiles": "Named lists of Beam pipeline arguments (runner, project, workers...).",
    "kubeflow.pipeline_root": "Artifacts of every Kubeflow run; gs:// or s3://.",
    "kubeflow.cpu_image": "Image of every task but the GPU ones.",
    "kubeflow.gpu_image": "Image of the `gpu_components` tasks.",
    "kubeflow.cpu_resources.cpu": "CPU request of a CPU task.",
    "kubeflow.cpu_resources.memory": "Memory request of a CPU task.",
    "kubeflow.cpu_resources.gpu_type": "Accelerator resource name (none for CPU tasks).",
    "kubeflow.cpu_resources.gpu_count": "Accelerators per CPU task (0).",
    "kubeflow.gpu_resources.cpu": "CPU request of a GPU task.",
    "kubeflow.gpu_resources.memory": "Memory request of a GPU task.",
    "kubeflow.gpu_resources.gpu_type": "Accelerator resource name, e.g. nvidia.com/gpu.",
    "kubeflow.gpu_resources.gpu_count": "Accelerators per GPU task.",
}

# The pages that explain each section further.
SECTION_DOCS = {
    "project": "pipeline.md",
    "data": "data.md",
    "augmentation": "data.md#augmentation",
    "teacher": "teacher.md",
    "student": "student.md",
    "distillation": "student.md",
    "training": "student.md#training",
    "evaluation": "evaluation.md",
    "push": "pipeline.md",
    "beam": "kubeflow.md#beam-on-dataflow-flink-or-spark",
    "kubeflow": "kubeflow.md",
}


def _comment(text: str) -> str:
    return " ".join(line.strip().lstrip("#").strip() for line in text.splitlines()).strip()


def field_comments(cls: type) -> Dict[str, str]:
    """{field: the comment lines just above it in the class body, and the one on its line}."""
    lines, _ = inspect.getsourcelines(cls)
    source = textwrap.dedent("".join(lines))
    source_lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body[0].body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        above, i = [], node.lineno - 2
        while i >= 0 and source_lines[i].strip().startswith("#"):
            above.insert(0, source_lines[i])
            i -= 1
        own = source_lines[node.lineno - 1]
        inline = own.split("  # ", 1)[1] if "  # " in own else ""
        found[node.target.id] = _comment("\n".join(above + [inline]))
    return found


def _comment_start(line: str) -> int:
    """Where the comment of a YAML line starts (-1: none; a `#` inside quotes is text)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] == " "):
            return i
    return -1


def yaml_comments(path: str) -> Dict[str, str]:
    """{key path: its comment in the YAML file}: the comment on the key's line with the comment
    lines aligned under it, and comment lines just above the key."""
    comments: Dict[str, str] = {}
    stack: List[Tuple[int, str]] = []
    last_key, last_column, pending = None, -1, []
    for line in open(path, encoding="utf-8").read().splitlines():
        stripped = line.strip()
        if not stripped:  # a blank line ends a comment block (the file's header is no key's)
            last_key, pending = None, []
            continue
        if stripped.startswith("#"):
            column = len(line) - len(line.lstrip())
            if last_key and column == last_column:
                comments[last_key] += " " + stripped.lstrip("#").strip()
            else:
                pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w]*):", line)
        if not match:
            last_key = None
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path_key = ".".join(k for _, k in stack)
        start = _comment_start(line)
        comment = line[start + 1 :].strip() if start >= 0 else ""
        comments[path_key] = " ".join(pending + ([comment] if comment else [])).strip()
        pending = []
        last_key, last_column = path_key, start
    return {k: v for k, v in comments.items() if v}


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_type_name(a) for a in inner)
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin in (list, typing.List):
        return f"list of {_type_name(args[0])}"
    if origin in (dict, typing.Dict):
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _value(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, list) and value and all(dataclasses.is_dataclass(v) for v in value):
        value = [dataclasses.asdict(v) for v in value]
    text = "null" if value is None else json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    if isinstance(value, bool):
        text = "true" if value else "false"
    if len(text) > 60:
        if isinstance(value, dict):
            return "keys " + ", ".join(f"`{k}`" for k in value) + " (see pipeline.yaml)"
        return "see pipeline.yaml"
    return f"`{text}`"


def leaves(
    cls: type, prefix: str, raw: Any, typed: Any, default: Any
) -> Iterator[Tuple[str, type, Any, Any, Any, str]]:
    """(key path, type, value in the YAML or ..., its typed value, default, dataclass comment) of
    every key of `cls`: a nested section as a row of its own, then its keys; the keys of a list's
    sections as `key[].field`."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for f in dataclasses.fields(cls):
        key, tp = f"{prefix}.{f.name}" if prefix else f.name, hints[f.name]
        in_yaml = raw.get(f.name, ...) if isinstance(raw, dict) else ...
        value, default_value = getattr(typed, f.name), getattr(default, f.name)
        yield key, tp, in_yaml, value, default_value, comments.get(f.name, "")
        if dataclasses.is_dataclass(tp):
            yield from leaves(tp, key, in_yaml, value, default_value)
        element = typing.get_args(tp)[0] if typing.get_origin(tp) in (list, typing.List) else None
        if element is not None and dataclasses.is_dataclass(element):
            element_comments = field_comments(element)
            element_hints = typing.get_type_hints(element)
            for ef in dataclasses.fields(element):
                required = ef.default is dataclasses.MISSING
                yield (
                    f"{key}[].{ef.name}",
                    element_hints[ef.name],
                    ...,
                    None,
                    "(required)" if required else ef.default,
                    element_comments.get(ef.name, ""),
                )


def _sentence(text: str) -> str:
    # Pointers into other documents' sections do not survive their moves: the page says it.
    text = re.sub(r"\s*\(README[^)]*\)", "", text).strip()
    return text if not text or text.endswith((".", ")", ":", "!", "?")) else text + "."


def _configs(config_path: str) -> Tuple[Dict[str, Any], Any, Any]:
    """(pipeline.yaml as parsed, as typed, the defaults of a file without keys)."""
    from config_core import YamlLoader, build
    from pipeline.config import Config

    with open(config_path, encoding="utf-8") as f:
        raw = yaml.load(f, Loader=YamlLoader)
    return raw, build(Config, raw), Config()


def render(config_path: str = "pipeline.yaml") -> str:
    """The whole page."""
    raw, typed, defaults = _configs(config_path)
    yaml_notes = yaml_comments(config_path)
    out = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m bench.docs` from the config dataclasses and pipeline.yaml; do not edit. -->",
        "",
        "[`pipeline.yaml`](../pipeline.yaml) configures every stage. It is loaded into typed dataclasses (each "
        "library owns its sections: `beam_jobs/config.py`, `teacher/config.py`, `pqrnn/config.py`, `config_core`; "
        "`pipeline/config.py` combines them). A wrong type, an unknown key, a value out of range or a missing "
        "file stops the program with exit code 2 and one line naming the key path, before any work starts:",
        "",
        "```",
        "$ .venv/bin/python -m pipeline run --set student.qrnn.state_size=big",
        "config error: student.qrnn.state_size: expected int, got 'big'",
        "$ .venv/bin/python -m beam_jobs.build_dataset --output_dir out --set data.max_tokens=0",
        "config error: data.max_tokens: must be >= 1, got 0",
        "```",
        "",
        "Any key can be overridden with `--set key.path=value` (the value is parsed as YAML, e.g. "
        "`--set data.languages=[en,th]`). Relative paths are relative to the config file. A library's own "
        "command line (`python -m beam_jobs.<job>`, `python -m teacher`) reads only its sections (and refuses "
        "`--set` on others); `python -m pipeline` reads all of them. Each pipeline component is given only the "
        "sections it reads (`models/sections.py`), so a change re-runs only the stages that read it "
        "([pipeline.md](pipeline.md#caching)).",
        "",
        "Each key below: its value in pipeline.yaml (what `make run` uses), its type, the value a config file "
        "that leaves it out gets, what it does (from the dataclass that owns it) and what pipeline.yaml's "
        "comment says about the value.",
    ]
    hints = typing.get_type_hints(type(defaults))
    for section in dataclasses.fields(defaults):
        name = section.name
        out += ["", f"## {name}", ""]
        if name in SECTION_DOCS:
            out += [f"More in [{SECTION_DOCS[name].split('#')[0]}]({SECTION_DOCS[name]}).", ""]
        rows = leaves(hints[name], name, raw.get(name, ...), getattr(typed, name), getattr(defaults, name))
        for key, tp, in_yaml, value, default, comment in rows:
            what = _sentence(comment or EXTRA.get(key, ""))
            note = _sentence(yaml_notes.get(key, ""))
            if dataclasses.is_dataclass(tp):
                if what or note:
                    out.append(f"- `{key}`: {' '.join(t for t in (what, note) if t)}")
                continue
            if in_yaml is ...:
                required = "required" if default == "(required)" else f"default {_value(default)}"
                head = f"- **`{key}`** ({_type_name(tp)}; {required})"
            else:
                left_out = "same if left out" if value == default else f"if left out {_value(default)}"
                head = f"- **`{key}`** = {_value(in_yaml)} ({_type_name(tp)}; {left_out})"
            text = [t for t in (what, f"*pipeline.yaml:* {note}" if note and note != what else "") if t]
            out.append(f"{head}: {' '.join(text)}" if text else head)
    return "\n".join(out) + "\n"


def missing_descriptions(config_path: str = "pipeline.yaml") -> List[str]:
    """Keys with nothing to say what they do (a test keeps this empty)."""
    raw, typed, defaults = _configs(config_path)
    notes = yaml_comments(config_path)
    hints = typing.get_type_hints(type(defaults))
    missing = []
    for section in dataclasses.fields(defaults):
        name = section.name
        for key, tp, _, _, _, comment in leaves(
            hints[name], name, raw.get(name, ...), getattr(typed, name), getattr(defaults, name)
        ):
            if not dataclasses.is_dataclass(tp) and not (comment or notes.get(key) or EXTRA.get(key)):
                missing.append(key)
    return missing
