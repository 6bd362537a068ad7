"""A tiny random student exported as the Trainer exports one (SavedModel + int8 TFLite in
assets.extra/), for the benchmarks of the serving folder."""

import pytest
import tensorflow as tf

from pqrnn.export import export_saved_model, export_tflite_int8
from pqrnn.model import build_student
from pqrnn.projection import Projection
from schemas.features import TFLITE_DIR, TFLITE_FILE
from tests.device.cbuild import compiler
from tests.pqrnn.test_training import CONFIG
from tokenization import tf_ops

INTENTS = ["HassTurnOff", "HassTurnOn", "HassLightSet"]
TAGS = ["O", "B-area", "I-area", "B-name", "I-name"]


@pytest.fixture(scope="session")
def tiny_serving_dir(tmp_path_factory):
    compiler()  # skips where there is no C compiler
    tf.keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("student") / "serving")
    model = build_student(CONFIG, len(INTENTS), len(TAGS))
    export_saved_model(model, INTENTS, TAGS, path)
    projection = Projection.from_config(CONFIG)
    texts = ["turn on the kitchen light", "schalte das Licht aus", "dim the lamp to 40 %", "เปิดไฟ"]
    calibration = [projection(tf_ops.tokenize(tf.constant([t]))).numpy() for t in texts]
    export_tflite_int8(model, calibration, f"{path}/{TFLITE_DIR}/{TFLITE_FILE}")
    return path
