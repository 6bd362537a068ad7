"""What makes the teacher-inference job fast keeps its outputs: the bf16 linear weights give
bit-identical logits under autocast, the length sort passes every row on, and a bf16 job's
soft labels equal a direct model call."""

import numpy as np
import pytest
import torch
from apache_beam.utils.windowed_value import WindowedValue

from beam_jobs import teacher_inference
from beam_jobs.teacher_inference import Bf16LinearTeacher, SortByLength
from teacher.config import TeacherInferenceConfig
from teacher.inputs import collate, encode_words
from teacher.model import JointTeacher, load_tokenizer
from tests.beam_jobs.test_teacher_inference import TAGS, _teacher, read_output_split
from tests.conftest import beam_test_pipeline, example_row, write_examples

WORDS = [["turn", "on", "the", "light"], ["a", "bath", "room", "in", "the", "hall", "way", "!"], ["fan"]]


def test_bf16_linear_weights_give_the_logits_of_autocast(tmp_path):
    teacher = _teacher(tmp_path)
    tokenizer = load_tokenizer(teacher)
    batch = collate([encode_words(w, tokenizer, 32) for w in WORDS], tokenizer.pad_token_id)
    outputs = []
    for model in (JointTeacher.from_pretrained(teacher), Bf16LinearTeacher.from_pretrained(teacher)):
        model.eval().requires_grad_(False)  # as Beam's handler loads it
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            outputs.append(model(**batch))
    assert torch.equal(outputs[0].intent_logits, outputs[1].intent_logits)
    assert torch.equal(outputs[0].slot_logits, outputs[1].slot_logits)
    linear = [m for m in Bf16LinearTeacher.from_pretrained(teacher).modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)


def test_sort_by_length_passes_every_row_on_shortest_first_per_buffer():
    items = [({"id": [str(i)]}, {"input_ids": [0] * n}) for i, n in enumerate([5, 1, 3, 9, 2, 2, 7])]
    sort = SortByLength(buffer_rows=3)
    sort.start_bundle()
    out = []
    for item in items:
        out += list(sort.process(item, timestamp=0, window=None))
    out += list(sort.finish_bundle())
    assert all(isinstance(v, WindowedValue) for v in out)
    lengths = [len(v.value[1]["input_ids"]) for v in out]
    assert lengths == [1, 3, 5, 2, 2, 9, 7]  # each buffer of 3 sorted; the last row at the end
    assert sorted(v.value[0]["id"][0] for v in out) == sorted(row["id"][0] for row, _ in items)


@pytest.mark.skipif(not teacher_inference.bf16_inference(TeacherInferenceConfig()), reason="no native bf16")
def test_bf16_job_soft_labels_equal_a_direct_model_call(write_config, tmp_path):
    texts = ["turn on the light", "turn off the bathroom hallway fan please", "fan", "a bath room", "turn on"]
    rows = [example_row(i, t, "on", ["O"] * len(t.split()), "train") for i, t in enumerate(texts)]
    dataset, out = str(tmp_path / "ds"), str(tmp_path / "soft")
    write_examples(dataset, rows)
    teacher = _teacher(tmp_path)
    config = write_config({"teacher": {"inference": {"min_batch_size": 2, "max_batch_size": 2, "precision": "bf16"}}})
    args = ["--config", config, "--dataset_dir", dataset, "--teacher_dir", teacher, "--output_dir", out]
    summary = teacher_inference.run(args, test_pipeline=beam_test_pipeline())
    assert summary["bf16"] and summary["rows_out"] == len(rows)

    model, tokenizer = JointTeacher.from_pretrained(teacher).eval(), load_tokenizer(teacher)
    produced = {r["id"][0]: r for r in read_output_split(out, "train")}
    assert set(produced) == {r["id"] for r in rows}
    for row_id, row in produced.items():
        inputs = encode_words(row["tokens"], tokenizer, 128)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            direct = model(**{k: v.unsqueeze(0) for k, v in inputs.items()})
        np.testing.assert_allclose(row["teacher_intent_logits"], direct.intent_logits[0].float(), atol=0.02, rtol=0.02)
        np.testing.assert_allclose(
            np.reshape(row["teacher_slot_logits"], (len(row["tokens"]), len(TAGS))),
            direct.slot_logits[0].float(),
            atol=0.02,
            rtol=0.02,
        )
