"""Shared test set-up: legacy Keras everywhere, quiet TF, small configs on tmp paths."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pathlib  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def write_config(tmp_path):
    """Write a pipeline.yaml holding only the given sections (defaults fill the rest)."""

    def write(sections: dict, name: str = "pipeline.yaml") -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(sections, allow_unicode=True), encoding="utf-8")
        return str(path)

    return write
