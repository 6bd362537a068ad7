"""The environment TensorFlow, torch and Hugging Face read when they are first imported, set in
one place for every entry point.

Each package with entry points (`pipeline`, `bench`, `beam_jobs`; `tests` for pytest) calls
`set_defaults()` in its `__init__`, which Python runs before any module of the package, so
before any of them imports TensorFlow. The values go to `os.environ`, so the processes a run
starts (Beam workers, kfp-local's tasks) inherit them. A value already in the environment wins.
"""

from __future__ import annotations

import os
import warnings

DEFAULTS = {
    # tf.keras is Keras 2 (tf_keras): TFX 1.16, tf.Transform and the student are written against
    # it, and TensorFlow 2.16 would otherwise pick Keras 3.
    "TF_USE_LEGACY_KERAS": "1",
    # TensorFlow's C++ side logs errors only, not its start-up INFO and WARNING lines.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # torch's OpenMP threads otherwise spin while they wait: on cores another process shares, a
    # teacher step was measured 10x slower with spinning threads than with passive ones.
    "OMP_WAIT_POLICY": "PASSIVE",
    # Everything runs offline: teachers come from installed packages or local folders.
    "HF_HUB_OFFLINE": "1",
}


def set_defaults() -> None:
    """Set each of `DEFAULTS` the environment does not set, and hide the warning google.api_core
    gives on import for Python 3.10 (past its end of life; TFX 1.16 needs it here)."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core")


def quiet() -> None:
    """For a command that shows only its own lines: TensorFlow's C++ side logs fatal errors only,
    and no FutureWarning is shown. Call it before TensorFlow is imported."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.filterwarnings("ignore", category=FutureWarning)
