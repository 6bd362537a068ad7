"""A bilingual lexicon induced from the teacher's own multilingual encoder (no dictionary, no
parallel data): a word's translations into another language are the words of that language
whose embedding, the encoder's mean-pooled output for the word alone, is nearest in cosine.
Multilingual sentence encoders such as multilingual-e5 are trained to embed translations
close together, which is what makes their nearest neighbours across languages translations
("temperature" -> "तापमान", "timer" -> "टाइमर"); function words come out rougher. The
target words are the target language's own training words: the encoder's nearest neighbours
among its whole vocabulary would mix in words of other languages of the same script (Marathi
and Nepali for Hindi) and sub-word fragments.

Used by the cross-lingual augmentation (`beam_jobs.augmentation.translate_words`): the
teacher labels the word-by-word translations, so a rough one costs a noisy row, not a wrong
label.
"""

from __future__ import annotations

import unicodedata
from typing import Dict, List, Mapping, Sequence, Tuple

# (source language, target language) -> source word -> its nearest target words, nearest first.
Lexicon = Dict[Tuple[str, str], Dict[str, List[str]]]


def is_word(text: str) -> bool:
    """Two or more letters and combining marks, starting with a letter (Devanagari vowel signs
    are marks); single letters and numbers are left untranslated."""
    return (
        len(text) >= 2
        and unicodedata.category(text[0])[0] == "L"
        and all(unicodedata.category(ch)[0] in "LM" for ch in text)
    )


def embed_words(encoder_dir: str, words: Sequence[str], batch_size: int = 256):
    """L2-normalised mean-pooled embeddings [len(words), hidden] of each word on its own."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
    model = AutoModel.from_pretrained(encoder_dir, local_files_only=True).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(words), batch_size):
            batch = tokenizer(list(words[start : start + batch_size]), padding=True, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
    return torch.cat(out) if out else torch.zeros((0, model.config.hidden_size))


def induce_lexicon(
    encoder_dir: str,
    source_words: Mapping[str, Sequence[str]],
    target_words: Mapping[str, Sequence[str]],
    neighbours: int,
) -> Lexicon:
    """For every source language and every other target language, each source word's
    `neighbours` nearest target words by the encoder's embeddings.

    Pass only languages written with spaces: the words of the others are characters here."""
    vocabulary = sorted({w for ws in [*source_words.values(), *target_words.values()] for w in ws})
    index = {w: i for i, w in enumerate(vocabulary)}
    embeddings = embed_words(encoder_dir, vocabulary)
    lexicon: Lexicon = {}
    for src, src_words in sorted(source_words.items()):
        for tgt, tgt_words in sorted(target_words.items()):
            if tgt == src or not src_words or not tgt_words:
                continue
            similarity = embeddings[[index[w] for w in src_words]] @ embeddings[[index[w] for w in tgt_words]].T
            nearest = similarity.topk(min(neighbours, len(tgt_words)), dim=1).indices.tolist()
            lexicon[(src, tgt)] = {w: [tgt_words[j] for j in row] for w, row in zip(src_words, nearest)}
    return lexicon
