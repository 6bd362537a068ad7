"""Every package with entry points sets the environment before TensorFlow is imported, so
`python -m pipeline ...` and `python -m bench.*` use Keras 2 without the Makefile's environment."""

import json
import os
import subprocess
import sys

import pytest

from runtime import environment
from tests.conftest import REPO


def _run_without_defaults(code: str) -> str:
    """stdout of `python -c code` in an environment that sets none of `DEFAULTS`."""
    env = {k: v for k, v in os.environ.items() if k not in environment.DEFAULTS}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("package", ["pipeline", "bench", "beam_jobs"])
def test_importing_a_package_with_entry_points_sets_the_defaults(package):
    code = (
        f"import json, os, {package}\n"
        "from runtime.environment import DEFAULTS\n"
        "print(json.dumps({k: os.environ.get(k) for k in DEFAULTS}))"
    )
    assert json.loads(_run_without_defaults(code)) == environment.DEFAULTS


def test_the_pipeline_gets_keras_2_from_tf_keras():
    code = "import pipeline.__main__, tensorflow as tf; print(tf.keras.__name__)"
    assert _run_without_defaults(code).strip().startswith("tf_keras")


def test_a_value_already_set_wins(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    environment.set_defaults()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
