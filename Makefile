# The two commands of the README. Both install what they need first (scripts/setup.sh is
# idempotent and returns at once when .venv matches requirements.lock).
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::FutureWarning
PY := .venv/bin/python
OUT ?= runs/dataset

.PHONY: setup run test

setup:
	@scripts/setup.sh

run: setup
	$(PY) -m beam_jobs.build_dataset --config pipeline.yaml --output_dir $(OUT) --overwrite

test: setup
	$(PY) -m pytest -q tests
