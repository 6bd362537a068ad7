from runtime.environment import set_defaults

# Before any test module imports TensorFlow (pytest imports this package before conftest.py).
set_defaults()
