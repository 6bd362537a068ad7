"""The Beam jobs: dataset, augmentation, teacher inference (see ARCHITECTURE.md)."""

from runtime.environment import set_defaults

# Before any module of the package imports TensorFlow (their CLIs need no environment).
set_defaults()
