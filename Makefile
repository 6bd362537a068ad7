# The two commands of the README. Both install what they need first (scripts/setup.sh is
# idempotent and returns at once when .venv matches requirements.lock). TF_USE_LEGACY_KERAS and
# friends are set by the packages themselves (runtime/environment.py).
PY := .venv/bin/python
# Two pytest-xdist workers: most tests keep one core busy. Each test file, and the files of the
# shared tiny pipeline runs together, go to one worker (the scheduler in tests/conftest.py).
PYTEST_WORKERS := -n 2
.PHONY: setup run test test-slow dataset image

# Images for Kubeflow (see docs/kubeflow.md): make image REGISTRY=gcr.io/my-project [TAG=v1]
REGISTRY ?=
TAG ?= latest

setup:
	@scripts/setup.sh

run: setup
	$(PY) -m pipeline run --config pipeline.yaml

dataset: setup
	$(PY) -m beam_jobs.build_dataset --config pipeline.yaml --output_dir runs/dataset --overwrite

test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) device/gen_unicode_tables.py --check
	mkdir -p build/device
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Idevice -o build/device/test_projection \
		device/pqrnn_projection.c device/test_projection.c
	build/device/test_projection device/golden/projection.jsonl
	$(PY) -m pytest -q -m "not slow" $(PYTEST_WORKERS) --durations=15 tests

# The tiny pipeline compiled for Kubeflow and for Vertex AI, each run by kfp-local; CI runs it too.
test-slow: setup
	$(PY) -m pytest -q -m slow $(PYTEST_WORKERS) --durations=15 tests

image:
	@test -n "$(REGISTRY)" || { echo "usage: make image REGISTRY=<registry, e.g. gcr.io/my-project> [TAG=latest]" >&2; exit 2; }
	docker build -f docker/Dockerfile -t $(REGISTRY)/pqrnn-distill:$(TAG) .
	docker build -f docker/Dockerfile.gpu -t $(REGISTRY)/pqrnn-distill-gpu:$(TAG) .
	docker push $(REGISTRY)/pqrnn-distill:$(TAG)
	docker push $(REGISTRY)/pqrnn-distill-gpu:$(TAG)
