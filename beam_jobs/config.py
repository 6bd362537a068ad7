"""Config sections of the Beam jobs: `data`, `augmentation` and `beam` of pipeline.yaml.

Imports nothing of the project but `config_core` and `schemas`; the jobs take these dataclasses as
arguments, so the same job runs from its CLI, a TFX component or a test.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional, Tuple, Union

from config_core import ConfigError, at_least, resolve_path, within
from schemas.features import SPLITS


@dataclass
class HomeAssistantConfig:
    samples_per_template: int = 4
    # Training templates of a language with fewer rows than this get more samples each:
    # max(samples_per_template, ceil(rows / templates)); eval and test keep samples_per_template.
    # 0 turns it off. More phrasings of a small language's templates, for the teacher to label.
    train_rows_per_language: int = 0
    # Values for lists the package leaves empty ({area}, {name}, {floor}); "builtin" is
    # the small per-language file shipped with the project, otherwise a YAML path.
    value_lists: str = "builtin"
    # Templates that reference wildcard lists ({message}, {search_query}...) are skipped.
    skip_wildcards: bool = True

    def check(self, key: str, base_dir: str) -> None:
        at_least(f"{key}.samples_per_template", self.samples_per_template, 1)
        at_least(f"{key}.train_rows_per_language", self.train_rows_per_language, 0)
        if self.value_lists != "builtin":
            if not os.path.exists(os.path.join(base_dir, self.value_lists)):
                raise ConfigError(f"{key}.value_lists", f"file not found: {self.value_lists!r}")
            self.value_lists = resolve_path(self.value_lists, base_dir)


@dataclass
class SplitConfig:
    train: float = 0.8
    eval: float = 0.1
    test: float = 0.1

    def check(self, key: str, base_dir: str) -> None:
        for name in ("train", "eval", "test"):
            within(f"{key}.{name}", getattr(self, name), 0.0, 1.0)
        if abs(self.train + self.eval + self.test - 1.0) > 1e-6:
            raise ConfigError(key, "train + eval + test must sum to 1")


@dataclass
class UnlabeledSource:
    """Raw utterances without labels (e.g. production traffic), for the teacher to label:
    `*.jsonl` holds {"text", "lang"?, "id"?} per line, any other file one utterance per line."""

    path: str  # a glob, relative to the config file like data.paths
    # Language of its rows that carry none (plain text never does); default data.default_lang.
    lang: Optional[str] = None

    def check(self, key: str, base_dir: str) -> None:
        # Object stores are checked when the job reads them.
        if "://" not in self.path and not glob.glob(os.path.join(base_dir, self.path)):
            raise ConfigError(f"{key}.path", f"no file matches {self.path!r}")
        self.path = resolve_path(self.path, base_dir)


@dataclass
class DataConfig:
    source: Literal["home_assistant", "jsonl", "mtop", "multiatis"] = "home_assistant"
    # Files (globs allowed) for the bring-your-own sources: a list is split by `split` (a hash
    # of each row's group); a mapping {train: [...], eval: [...], test: [...]} keeps the
    # dataset's own splits (each file's rows go to its split).
    paths: Union[List[str], Dict[str, List[str]]] = field(default_factory=list)
    # Language of MultiATIS++/JSONL rows that do not carry one themselves.
    default_lang: str = "en"
    languages: List[str] = field(default_factory=lambda: ["en", "de", "es", "fr", "hi", "th"])
    home_assistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    max_line_bytes: int = 20000
    max_tokens: int = 64
    # The job fails when more than this fraction of input rows is dead-lettered.
    max_dead_letter_ratio: float = 0.05
    # Unlabelled inputs: the Augment job adds them to the train split as teacher-only rows.
    unlabeled: List[UnlabeledSource] = field(default_factory=list)

    def check(self, key: str, base_dir: str) -> None:
        if not self.languages and self.source == "home_assistant":
            raise ConfigError(f"{key}.languages", "must name at least one language")
        if self.source == "home_assistant":
            from home_assistant_intents import get_languages

            known = set(get_languages())
            for i, lang in enumerate(self.languages):
                if lang not in known:
                    raise ConfigError(
                        f"{key}.languages[{i}]",
                        f"{lang!r} is not a language of home-assistant-intents (e.g. en, de, zh-CN)",
                    )
        if isinstance(self.paths, dict):
            for name in self.paths:
                if name not in SPLITS:
                    raise ConfigError(f"{key}.paths.{name}", f"unknown split (the splits are {', '.join(SPLITS)})")
            for name in SPLITS:
                if name not in self.paths:
                    raise ConfigError(f"{key}.paths.{name}", "missing: a mapping gives the files of every split")
        if self.source != "home_assistant":
            if not self.all_paths():
                raise ConfigError(f"{key}.paths", f"source {self.source!r} needs at least one input file")
            for where, pattern in self.labelled_paths(key):
                # Object stores are checked when the job reads them.
                if "://" not in pattern and not glob.glob(os.path.join(base_dir, pattern)):
                    raise ConfigError(where, f"no file matches {pattern!r}")
        at_least(f"{key}.max_tokens", self.max_tokens, 1)
        at_least(f"{key}.max_line_bytes", self.max_line_bytes, 1)
        within(f"{key}.max_dead_letter_ratio", self.max_dead_letter_ratio, 0.0, 1.0)
        for i, source in enumerate(self.unlabeled):
            if source.lang and self.languages and source.lang not in self.languages:
                raise ConfigError(
                    f"{key}.unlabeled[{i}].lang",
                    f"{source.lang!r} is not in {key}.languages ({', '.join(self.languages)})",
                )
            source.check(f"{key}.unlabeled[{i}]", base_dir)
        if isinstance(self.paths, dict):
            self.paths = {name: [resolve_path(p, base_dir) for p in self.paths[name]] for name in SPLITS}
        else:
            self.paths = [resolve_path(p, base_dir) for p in self.paths]

    def labelled_paths(self, key: str) -> List[Tuple[str, str]]:
        if isinstance(self.paths, dict):
            return [(f"{key}.paths.{name}[{i}]", p) for name in SPLITS for i, p in enumerate(self.paths.get(name, []))]
        return [(f"{key}.paths[{i}]", p) for i, p in enumerate(self.paths)]

    def given_splits(self) -> Optional[Dict[str, List[str]]]:
        """The files of each split when the user gave them (a mapping), else None (hash split)."""
        return self.paths if isinstance(self.paths, dict) else None

    def all_paths(self) -> List[str]:
        return [p for _, p in self.labelled_paths("data")]


@dataclass
class RoundTripRoute:
    lang: str  # rows of this language are paraphrased
    pivot: str
    to_pivot: str  # local Hugging Face seq2seq folders
    from_pivot: str


@dataclass
class RoundTripConfig:
    # How many paraphrases per training row of a routed language.
    amount: float = 1.0
    routes: List[RoundTripRoute] = field(default_factory=list)
    num_beams: int = 1
    batch_size: int = 16

    def check(self, key: str, base_dir: str) -> None:
        for i, route in enumerate(self.routes):
            for name in ("to_pivot", "from_pivot"):
                folder = getattr(route, name)
                if not os.path.isdir(os.path.join(base_dir, folder)):
                    raise ConfigError(f"{key}.routes[{i}].{name}", f"folder not found: {folder!r}")
                setattr(route, name, resolve_path(folder, base_dir))


@dataclass
class AugmentationConfig:
    enabled: bool = True
    # New rows per training row, by method.
    slot_resample: float = 1.0
    # A row's start joined to the end of another row of its intent and language, where a slot
    # of the same name starts or ends (`augmentation.recombine`).
    recombine: float = 0.0
    word_dropout: float = 0.5
    word_swap: float = 0.25
    char_distortion: float = 0.25
    # New rows per training row of a language written with spaces: the row translated word by
    # word into another of the dataset's languages, with a lexicon induced from teacher.base's
    # encoder (teacher.lexicon); each word picks one of its `cross_lingual_neighbours` nearest.
    cross_lingual: float = 0.5
    cross_lingual_neighbours: int = 3
    # The target language is drawn with weight (its training templates) ** -balance: 0 draws
    # uniformly, 1 inversely to the templates, so the thinnest languages get the most new rows.
    cross_lingual_balance: float = 1.0
    # A small train split gets more of the teacher: when train rows x (1 + the amounts above)
    # is below this, every amount is scaled up to reach it (before duplicates are dropped), by
    # at most `max_scale`. 0: the amounts as given.
    min_train_rows: int = 75000
    max_scale: float = 10.0
    round_trip: RoundTripConfig = field(default_factory=RoundTripConfig)

    def offline_and_cross_lingual_amount(self) -> float:
        """New rows per training row of the scaled methods, together."""
        return (
            self.slot_resample
            + self.recombine
            + self.word_dropout
            + self.word_swap
            + self.char_distortion
            + self.cross_lingual
        )

    def scale(self, train_rows: int) -> float:
        """The factor on every amount for a train split of `train_rows` rows (>= 1)."""
        produced = train_rows * (1.0 + self.offline_and_cross_lingual_amount())
        if not self.min_train_rows or not produced or self.offline_and_cross_lingual_amount() == 0:
            return 1.0
        return min(self.max_scale, max(1.0, self.min_train_rows / produced))

    def check(self, key: str, base_dir: str) -> None:
        for name in ("slot_resample", "recombine", "word_dropout", "word_swap", "char_distortion", "cross_lingual"):
            amount = getattr(self, name)
            if amount < 0:
                raise ConfigError(f"{key}.{name}", f"new rows per training row cannot be negative: {amount}")
        if self.cross_lingual_neighbours < 1:
            raise ConfigError(f"{key}.cross_lingual_neighbours", f"must be at least 1: {self.cross_lingual_neighbours}")
        if self.cross_lingual_balance < 0:
            raise ConfigError(f"{key}.cross_lingual_balance", f"cannot be negative: {self.cross_lingual_balance}")
        if self.min_train_rows < 0:
            raise ConfigError(f"{key}.min_train_rows", f"cannot be negative: {self.min_train_rows}")
        if self.max_scale < 1:
            raise ConfigError(f"{key}.max_scale", f"must be at least 1: {self.max_scale}")


@dataclass
class BeamConfig:
    # Which entry of `profiles` the Beam jobs and Beam-based components use.
    profile: str = "local"
    profiles: Dict[str, List[str]] = field(
        default_factory=lambda: {
            "local": ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
        }
    )
    # Component id -> profile for that component only (e.g. TeacherInference on Dataflow GPU
    # workers); its arguments come after the pipeline's, so its flags win.
    component_profiles: Dict[str, str] = field(default_factory=dict)

    def check(self, key: str, base_dir: str) -> None:
        known = ", ".join(self.profiles)
        if self.profile not in self.profiles:
            raise ConfigError(f"{key}.profile", f"{self.profile!r} is not one of {key}.profiles ({known})")
        for component_id, profile in self.component_profiles.items():
            if profile not in self.profiles:
                raise ConfigError(
                    f"{key}.component_profiles.{component_id}", f"{profile!r} is not one of {key}.profiles ({known})"
                )

    def args(self) -> List[str]:
        """Beam pipeline arguments of the selected profile."""
        return list(self.profiles[self.profile])
