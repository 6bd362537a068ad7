"""Benchmarks (not tests) and their records in `bench/results/`; `bench.docs` writes the pages
generated from them."""

from runtime.environment import set_defaults

# Before any module of the package imports TensorFlow (`python -m bench.*` needs no environment).
set_defaults()
