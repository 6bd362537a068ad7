"""Typed config sections built from YAML or JSON, with errors that name the key path.

Each library owns the dataclasses of its own sections (`beam_jobs.config`, `teacher.config`,
`pqrnn.config`); `pipeline.config` combines them into the whole `pipeline.yaml`. This module
is the machinery they share and imports nothing of the project. Validation is hand-rolled
over dataclasses (not pydantic) so that every error names the full key path as users see it
in the YAML, e.g. `student.qrnn.state_size: expected int, got 'big'`.

A section class may define `check(self, key: str, base_dir: str) -> None`: it raises
`ConfigError` for values that are well-typed but wrong (ranges, missing files) and makes its
relative paths relative to `base_dir` (the folder of the config file).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import typing
from dataclasses import dataclass
from typing import Any, Dict, Literal, Mapping, Sequence, Tuple, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A problem in the config, reported with the key path it concerns."""

    def __init__(self, key_path: str, message: str):
        self.key_path = key_path
        super().__init__(f"{key_path}: {message}" if key_path else message)


@dataclass
class ProjectConfig:
    name: str = "pqrnn-distill"
    seed: int = 42
    # Local runs keep MLMD, artifacts and serving output under here.
    work_dir: str = "runs"

    def check(self, key: str, base_dir: str) -> None:
        # The pipeline name names MLMD contexts, folders and Kubeflow pipelines.
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", self.name):
            raise ConfigError(f"{key}.name", f"{self.name!r} must be 1-64 letters, digits, '_', '.' or '-'")
        at_least(f"{key}.seed", self.seed, 0)
        self.work_dir = resolve_path(self.work_dir, base_dir)


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"


class YamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that reads YAML 1.2's floats: PyYAML follows YAML 1.1, where an exponent
    without a dot (`3e-3`) is a string, not the number users mean."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
)


def convert(value: Any, tp: Any, path: str) -> Any:
    """`value` (parsed YAML/JSON) as type `tp`: a dataclass, a typing form or a scalar type."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:  # Optional[X], or a list or a mapping (chosen by the value's shape)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) > 1:
            shapes = {dict: (dict, typing.Dict), list: (list, typing.List, Sequence)}
            for a in inner:
                if typing.get_origin(a) in shapes.get(type(value), ()):
                    return convert(value, a, path)
            raise ConfigError(path, f"expected a list or a mapping, got {_describe(value)}")
        return convert(value, inner[0], path)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(path, f"expected one of {choices}, got {_describe(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    if origin in (list, typing.List, Sequence):
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {_describe(value)}")
        return [convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {_describe(value)}")
        return {convert(k, args[0], path): convert(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected bool, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected int, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected float, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected str, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported config type {tp} at {path}")


def build(cls: typing.Type[T], raw: Any, path: str = "") -> T:
    """A dataclass from a mapping: unknown keys are errors, missing keys take the defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a mapping, got {_describe(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{path}.{key}" if path else str(key), f"unknown key (known keys: {known})")
    kwargs = {}
    for name, f in fields.items():
        key_path = f"{path}.{name}" if path else name
        if name in raw:
            kwargs[name] = convert(raw[name], hints[name], key_path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(key_path, "missing required key")
    return cls(**kwargs)


def check(section: Any, key: str, base_dir: str) -> None:
    """Run `check` of a section and of every section inside it (depth first)."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            check(value, f"{key}.{f.name}" if key else f.name, base_dir)
    if hasattr(section, "check"):
        section.check(key, base_dir)


def resolve_path(path: str, base_dir: str) -> str:
    """A relative file path is relative to the config file; URIs and absolute paths stay."""
    return path if ("://" in path or os.path.isabs(path)) else os.path.normpath(os.path.join(base_dir, path))


def at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(key, f"must be >= {low}, got {value}")


def positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(key, f"must be > 0, got {value}")


def within(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(key, f"must be within [{low}, {high}], got {value}")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: what and where (line and column, 1-based)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def apply_override(raw: Dict[str, Any], override: str) -> None:
    """Apply `key.path=value` (value parsed as YAML) to a raw config mapping."""
    if "=" not in override:
        raise ConfigError("", f"override {override!r} must look like key.path=value")
    key_path, value_text = override.split("=", 1)
    try:
        value = yaml.load(value_text, Loader=YamlLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(key_path, f"override value {value_text!r} is not valid YAML ({_yaml_problem(exc)})") from None
    node = raw
    keys = key_path.strip().split(".")
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(".".join(keys[: i + 1]), "is not a mapping; cannot override a key inside it")
        node = child
    node[keys[-1]] = value


def read_yaml(path: str | None, overrides: Sequence[str] = ()) -> Tuple[Dict[str, Any], str]:
    """(raw mapping with overrides applied, folder relative paths are relative to)."""
    raw: Dict[str, Any] = {}
    base_dir = os.getcwd()
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError("", f"config file not found: {path}")
        base_dir = os.path.dirname(os.path.abspath(path))
        with open(path, encoding="utf-8") as f:
            try:
                raw = yaml.load(f, Loader=YamlLoader) or {}
            except yaml.YAMLError as exc:
                raise ConfigError("", f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
        if not isinstance(raw, dict):
            raise ConfigError("", f"{path} must hold a mapping at the top level")
    for override in overrides:
        apply_override(raw, override)
    return raw, base_dir


def pick(raw: Mapping[str, Any], key_path: str, required: bool = True) -> Any:
    """The value at `key_path` (e.g. `teacher.finetune`) of a raw mapping."""
    node: Any = raw
    for key in key_path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            if required:
                raise ConfigError(key_path, "missing (this stage reads it; pass it explicitly)")
            return None
        node = node[key]
    return node


def sections(raw: Mapping[str, Any], section_types: Mapping[str, Any], required: bool = True) -> Dict[str, Any]:
    """Typed values of the named sections (`{"data": DataConfig, "project.seed": int}`) of a raw
    mapping. `required`: a missing section is an error rather than its defaults."""
    typed = {}
    for key_path, tp in section_types.items():
        value = pick(raw, key_path, required)
        typed[key_path] = build(tp, value, key_path) if dataclasses.is_dataclass(tp) else convert(value, tp, key_path)
    return typed


def or_exit(load: typing.Callable[..., T], *args: Any) -> T:
    """Call a config loader for an entry point: a `ConfigError` prints one line and exits 2."""
    try:
        return load(*args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_set_argument(
    parser: argparse.ArgumentParser,
    help: str = "override config keys, e.g. --set data.languages=[en,de] training.epochs=3 (repeatable)",
) -> None:
    """`--set KEY=VALUE ...` into `args.overrides`: several after one flag, and repeatable."""
    parser.add_argument(
        "--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help=help
    )


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config` and `--set KEY=VALUE ...` for every entry point."""
    parser.add_argument("--config", default="pipeline.yaml", help="path to pipeline.yaml")
    add_set_argument(parser)


def load_sections(path: str | None, overrides: Sequence[str], section_types: Mapping[str, Any]) -> Dict[str, Any]:
    """The named top-level sections of a config file, typed and checked; sections the file
    leaves out take their defaults. For the libraries' own CLIs, which read only their part."""
    top_level = {key.split(".")[0] for key in section_types}
    for override in overrides:
        key = override.split("=", 1)[0].strip()
        if key.split(".")[0] not in top_level:
            raise ConfigError(key, f"this command reads only {', '.join(sorted(top_level))}")
    raw, base_dir = read_yaml(path, overrides)
    typed = sections(raw, section_types, required=False)
    for key, value in typed.items():
        if dataclasses.is_dataclass(value):
            check(value, key, base_dir)
    return typed
