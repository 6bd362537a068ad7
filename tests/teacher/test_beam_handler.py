"""The teacher runs unchanged under Beam's Hugging Face keyed-tensor model handler."""

import torch

from teacher.inputs import collate, encode_words
from teacher.model import JointTeacher, load_tokenizer
from teacher.tiny import tiny_base
from tokenization import words


def test_huggingface_keyed_tensor_handler_matches_a_direct_call(tmp_path):
    from apache_beam.ml.inference.huggingface_inference import HuggingFaceModelHandlerKeyedTensor

    base = tiny_base(str(tmp_path / "base"))
    torch.manual_seed(3)
    model = JointTeacher.from_base(base, ["TurnOn", "TurnOff"], ["O", "B-area", "I-area"]).eval()
    tokenizer = load_tokenizer(base)
    model.save_pretrained(tmp_path / "teacher")

    handler = HuggingFaceModelHandlerKeyedTensor(
        model_uri=str(tmp_path / "teacher"), model_class=JointTeacher, framework="pt", device="CPU"
    )
    loaded = handler.load_model()
    examples = [["turn", "on", "the", "kitchenette"], words("เปิดไฟในห้องนอน")]
    # Beam stacks each key's tensors: fixed shapes via pad=True.
    batch = [encode_words(e, tokenizer, max_length=32, max_words=20, pad=True) for e in examples]
    results = list(handler.run_inference(batch, loaded))

    with torch.no_grad():
        direct = model(**collate([encode_words(e, tokenizer, max_length=32) for e in examples], tokenizer.pad_token_id))
    assert len(results) == len(examples)
    for row, (example, result) in enumerate(zip(examples, results)):
        n = len(example)
        assert result.inference["slot_logits"].shape == (20, 3)
        torch.testing.assert_close(result.inference["intent_logits"], direct.intent_logits[row], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(
            result.inference["slot_logits"][:n], direct.slot_logits[row, :n], atol=1e-5, rtol=1e-4
        )
