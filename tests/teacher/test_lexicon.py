"""The cross-lingual lexicon induced from an encoder's word embeddings."""

from teacher import lexicon
from teacher.tiny import make_tiny_base


def test_words_are_letters_and_marks():
    assert lexicon.is_word("तापमान") and lexicon.is_word("küche") and lexicon.is_word("lights")
    assert not any(lexicon.is_word(t) for t in ("a", "42", "%", "ि", "3d"))


def test_nearest_target_words_with_a_shared_word_first(tmp_path):
    english, german = ["timer", "light", "kitchen"], ["timer", "licht", "küche", "stoppe"]
    base = make_tiny_base(str(tmp_path / "base"), [" ".join(english), " ".join(german)], hidden_size=16)
    induced = lexicon.induce_lexicon(base, {"en": english, "de": german}, {"en": english, "de": german}, 2)
    assert set(induced) == {("en", "de"), ("de", "en")}
    assert set(induced[("en", "de")]) == set(english) and set(induced[("de", "en")]) == set(german)
    assert all(len(ws) == 2 and set(ws) <= set(german) for ws in induced[("en", "de")].values())
    # Identical embeddings: a word both languages use is its own nearest translation.
    assert induced[("en", "de")]["timer"][0] == "timer" and induced[("de", "en")]["timer"][0] == "timer"
    assert induced == lexicon.induce_lexicon(base, {"en": english, "de": german}, {"en": english, "de": german}, 2)
