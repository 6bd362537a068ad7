"""Joint teacher: word alignment on the first sub-token, padding, truncation, metrics."""

import pytest
import torch

from schemas.features import bio_spans
from teacher.inputs import collate, encode_words
from teacher.metrics import NluMetrics
from teacher.model import JointTeacher, load_tokenizer
from teacher.tiny import tiny_base
from tokenization import words

INTENTS = ["TurnOn", "TurnOff"]
TAGS = ["O", "B-area", "I-area"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tiny_base(str(tmp_path_factory.mktemp("tiny")))
    torch.manual_seed(0)
    return JointTeacher.from_base(folder, INTENTS, TAGS).eval(), load_tokenizer(folder)


def test_slot_logits_come_from_each_words_first_sub_token(tiny):
    model, tokenizer = tiny
    sentence = ["turn", "on", "kitchenette", "bedroomlights", "lights"]
    enc = encode_words(sentence, tokenizer, max_length=32)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"].tolist())
    index = enc["word_index"].tolist()
    # Out-of-corpus words split into several WordPiece sub-tokens.
    assert pieces[index[2] + 1].startswith("##") and pieces[index[3] + 1].startswith("##")
    for w, i in enumerate(index):
        assert not pieces[i].startswith("##") and sentence[w].startswith(pieces[i])
    batch = {k: v.unsqueeze(0) for k, v in enc.items()}
    with torch.no_grad():
        out = model(**batch)
        hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state[
            0
        ]
    assert out.slot_logits.shape == (1, len(sentence), len(TAGS))
    assert out.intent_logits.shape == (1, len(INTENTS))
    torch.testing.assert_close(out.slot_logits[0], model.slot_head(hidden[index]))
    last = [i + 1 for i in index[2:4]]  # second sub-tokens of the split words differ
    assert not torch.allclose(out.slot_logits[0, 2:4], model.slot_head(hidden[last]))
    torch.testing.assert_close(out.intent_logits[0], model.intent_head(hidden[0]))


def test_word_segmented_text_is_read_with_its_spaces(tiny):
    _, tokenizer = tiny
    text = "เปิด การ จับ เวลา"  # MTOP's Thai: one word at a time
    thai = words(text)
    enc = encode_words(thai, tokenizer, max_length=64)
    assert len(thai) == 4 and enc["input_ids"].tolist() == tokenizer(text)["input_ids"]
    assert enc["word_continuation"].tolist() == [0, 0, 0, 0]


def test_no_space_language_words_share_the_pieces_of_their_text(tiny):
    model, tokenizer = tiny
    text = "เปิดไฟในห้องนอน"
    thai = words(text)
    assert len(thai) > 8  # one word per character (+ its combining marks)
    enc = encode_words(thai, tokenizer, max_length=64)
    # The encoder sees the pieces of the text as written, fewer than the words.
    assert enc["input_ids"].tolist() == tokenizer(text)["input_ids"]
    assert len(enc["input_ids"]) - 2 < len(thai)
    index, cont = enc["word_index"].tolist(), enc["word_continuation"].tolist()
    assert enc["word_mask"].tolist() == [1] * len(thai)
    assert index == sorted(index) and cont[0] == 0
    # A word continues a piece exactly when it shares the previous word's piece.
    assert cont[1:] == [int(a == b) for a, b in zip(index, index[1:])]
    assert 0 < sum(cont) < len(thai)

    # Words sharing a piece get different slot logits through the continuation vector.
    with torch.no_grad():
        model.continuation.weight.normal_()
        batch = {k: v.unsqueeze(0) for k, v in enc.items()}
        out = model(**batch).slot_logits[0]
        hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state[
            0
        ]
        expected = model.slot_head(hidden[index] + model.continuation.weight[cont])
        model.continuation.weight.zero_()
    torch.testing.assert_close(out, expected)
    w = cont.index(1)
    assert not torch.allclose(out[w], out[w - 1])


def test_padded_inputs_give_the_same_logits_as_unpadded(tiny):
    model, tokenizer = tiny
    examples = [["turn", "on", "the", "light"], words("เปิดไฟในห้องนอน"), ["kitchenette"]]
    padded = [encode_words(e, tokenizer, max_length=40, max_words=20, pad=True) for e in examples]
    assert all(p["input_ids"].shape == (40,) and p["word_index"].shape == (20,) for p in padded)
    stacked = {k: torch.stack([p[k] for p in padded]) for k in padded[0]}  # what Beam does
    dynamic = collate([encode_words(e, tokenizer, max_length=40) for e in examples], tokenizer.pad_token_id)
    with torch.no_grad():
        a, b = model(**stacked), model(**dynamic)
    torch.testing.assert_close(a.intent_logits, b.intent_logits, atol=1e-5, rtol=1e-4)
    for row, example in enumerate(examples):
        n = len(example)
        torch.testing.assert_close(a.slot_logits[row, :n], b.slot_logits[row, :n], atol=1e-5, rtol=1e-4)


def test_words_past_max_length_are_masked(tiny):
    _, tokenizer = tiny
    enc = encode_words(["turn", "on", "the", "light", "in", "the", "kitchen"], tokenizer, max_length=5)
    assert len(enc["input_ids"]) == 5
    assert enc["word_mask"].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert enc["word_index"].tolist()[3:] == [0, 0, 0, 0]


def test_loss_ignores_masked_words(tiny):
    model, tokenizer = tiny
    enc = encode_words(["turn", "on", "the", "light"], tokenizer, max_length=4)  # 2 words fit
    batch = {k: v.unsqueeze(0) for k, v in enc.items()}
    labels = torch.tensor([[0, 0, 1, 2]])
    with torch.no_grad():
        loss = model(**batch, intent_labels=torch.tensor([0]), slot_labels=labels).loss
        other = model(**batch, intent_labels=torch.tensor([0]), slot_labels=torch.tensor([[0, 0, 0, 0]])).loss
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, other)  # the labels of the cut words do not count


def test_bio_spans_and_metrics():
    assert bio_spans(["B-area", "I-area", "O", "I-name", "B-x", "B-x"]) == [
        (0, 2, "area"),
        (3, 4, "name"),
        (4, 5, "x"),
        (5, 6, "x"),
    ]
    m = NluMetrics()
    m.add("en", "A", "A", ["B-area", "I-area"], ["B-area", "I-area"])
    m.add("en", "A", "B", ["O", "B-area"], ["O", "B-area"])
    m.add("th", "A", "A", ["B-area", "I-area"], ["B-area", "O"])
    r = m.result()
    assert r["en"]["exact_match"] == 0.5 and r["en"]["intent_accuracy"] == 0.5 and r["en"]["slot_f1"] == 1.0
    assert r["th"]["exact_match"] == 0.0 and r["th"]["slot_f1"] == 0.0
    assert r["all"]["examples"] == 3 and list(r)[-1] == "all"


def test_freeze_stops_the_embeddings_and_lower_layers_only(tmp_path):
    folder = tiny_base(str(tmp_path / "tiny"))
    model = JointTeacher.from_base(folder, INTENTS, TAGS)
    layers = model.encoder.config.num_hidden_layers
    model.freeze(word_embeddings=True, layers=1)
    enc = encode_words(["turn", "on", "lights"], load_tokenizer(folder), max_length=16)
    batch = {k: v.unsqueeze(0) for k, v in enc.items()}
    model(**batch, intent_labels=torch.tensor([0]), slot_labels=torch.tensor([[0, 0, 0]])).loss.backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None}
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert trained and not trained & frozen
    assert all(name.startswith("encoder.embeddings.") or ".layer.0." in name for name in frozen)
    assert any(".layer.0." in name for name in frozen)
    assert any(name.startswith("encoder.embeddings.") for name in frozen)
    assert any(".layer.1." in name for name in trained) and any(name.startswith("intent_head") for name in trained)
    with pytest.raises(ValueError, match=f"the encoder has {layers} layers"):
        JointTeacher.from_base(folder, INTENTS, TAGS).freeze(word_embeddings=True, layers=layers + 1)
