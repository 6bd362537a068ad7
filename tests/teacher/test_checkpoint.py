"""A saved teacher loads in a fresh process that imports nothing of the project but its class."""

import json
import subprocess
import sys

import torch

from teacher.inputs import encode_words
from teacher.model import JointTeacher, load_tokenizer
from teacher.tiny import tiny_base
from tests.conftest import REPO

LOADER = r"""
import json, sys
import torch
from transformers import AutoModel
from teacher.model import JointTeacher
folder, inputs = sys.argv[1], json.loads(sys.argv[2])
batch = {k: torch.tensor([v]) for k, v in inputs.items()}
a = JointTeacher.from_pretrained(folder).eval()
b = AutoModel.from_pretrained(folder).eval()  # registered, no trust_remote_code
with torch.no_grad():
    out_a, out_b = a(**batch), b(**batch)
project = sorted(m for m in sys.modules if m.split(".")[0] in
                 {"teacher", "tokenization", "pipeline", "beam_jobs", "components", "schemas", "tests"})
print(json.dumps({
    "intent": out_a.intent_logits[0].tolist(), "slots": out_a.slot_logits[0].tolist(),
    "same": bool(torch.equal(out_a.slot_logits, out_b.slot_logits)), "class": type(b).__name__,
    "intents": a.config.intent_labels, "tags": a.config.slot_labels, "modules": project,
}))
"""


def test_round_trip_in_a_fresh_process(tmp_path):
    base = tiny_base(str(tmp_path / "base"))
    torch.manual_seed(1)
    model = JointTeacher.from_base(base, ["TurnOn", "TurnOff", "Weather"], ["O", "B-area", "I-area"]).eval()
    tokenizer = load_tokenizer(base)
    saved = tmp_path / "teacher"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)

    enc = encode_words(["turn", "on", "the", "kitchenette"], tokenizer, max_length=16)
    with torch.no_grad():
        expected = model(**{k: v.unsqueeze(0) for k, v in enc.items()})
    inputs = {k: v.tolist() for k, v in enc.items()}
    proc = subprocess.run(
        [sys.executable, "-c", LOADER, str(saved), json.dumps(inputs)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "USE_TF": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["modules"] == ["teacher", "teacher.model"]
    assert got["class"] == "JointTeacher" and got["same"]
    assert got["intents"] == ["TurnOn", "TurnOff", "Weather"] and got["tags"] == ["O", "B-area", "I-area"]
    torch.testing.assert_close(torch.tensor(got["intent"]), expected.intent_logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.tensor(got["slots"]), expected.slot_logits[0], atol=1e-5, rtol=1e-5)
