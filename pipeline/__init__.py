"""The orchestration: `create_pipeline(config)` (`pipeline.py`), the combined config, the local
runner, the run's console, the CLI (`python -m pipeline`), and Kubeflow and Vertex AI in
`kubeflow/`."""

from runtime.environment import set_defaults

# Before any module of the package imports TensorFlow (`python -m pipeline` needs no environment).
set_defaults()
