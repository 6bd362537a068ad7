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


def whole_words(tokenizer) -> Dict[str, int]:
    """The vocabulary's pieces that are a whole word (`is_word`) on their own: word -> piece id.
    A piece is one when the tokenizer gives back that piece alone for its text."""
    ids = sorted(tokenizer.get_vocab().values())
    texts = [tokenizer.convert_tokens_to_string([token]).strip() for token in tokenizer.convert_ids_to_tokens(ids)]
    kept = [(text, i) for text, i in zip(texts, ids) if is_word(text)]
    encoded = tokenizer([text for text, _ in kept], add_special_tokens=False)["input_ids"]
    return {text: i for (text, i), pieces in zip(kept, encoded) if pieces == [i]}


def _script(word: str) -> str:
    """The script of a word's first letter, e.g. "LATIN" or "DEVANAGARI"."""
    return unicodedata.name(word[0], "").split(" ")[0]


# Language -> case-folded word -> its nearest new words, nearest first.
Neighbours = Dict[str, Dict[str, List[str]]]


def vocabulary_neighbours(
    encoder_dir: str,
    words: Mapping[str, Sequence[str]],
    known_words: Mapping[str, Sequence[str]],
    neighbours: int,
    batch_size: int = 512,
) -> Neighbours:
    """For each language, each of its `words` that is a whole word of the encoder's vocabulary
    (as written, else lower-cased or capitalised): its `neighbours` nearest other whole words
    by the encoder's input embeddings ("Baltimore" -> "Pittsburgh", "Atlanta", ...), written
    in the word's script and the letters of the language's `known_words`, none of any language's
    known words and not starting with the word's first three letters (case-folded).

    Input embeddings need no forward pass, so the whole vocabulary is searched in seconds. The
    nearest pieces are often the word's own forms and translations ("Korea" -> "Korean",
    "Корея"; "mother" -> "madre"): the script and the language's letters keep other scripts out
    (Hindi rows also have Latin brand names), the known words the dataset's other languages, the
    first letters the forms. Pass only languages written with spaces."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
    embeddings = AutoModel.from_pretrained(encoder_dir, local_files_only=True).get_input_embeddings().weight.detach()
    vocabulary = whole_words(tokenizer)
    out: Neighbours = {}
    known = {w.casefold() for ws in known_words.values() for w in ws}
    for lang, lang_words in sorted(words.items()):
        letters = {ch for w in known_words.get(lang, []) for ch in w.casefold()}
        candidates = [w for w in vocabulary if w.casefold() not in known and set(w.casefold()) <= letters]
        queries = {}
        for word in lang_words:
            found = next((form for form in (word, word.lower(), word.capitalize()) if form in vocabulary), None)
            if found is not None:
                queries.setdefault(word.casefold(), found)
        if not candidates or not queries:
            continue
        keys = sorted(queries)
        targets = torch.nn.functional.normalize(embeddings[[vocabulary[w] for w in candidates]], dim=-1)
        found_neighbours: Dict[str, List[str]] = {}
        for start in range(0, len(keys), batch_size):
            batch = keys[start : start + batch_size]
            query = torch.nn.functional.normalize(embeddings[[vocabulary[queries[k]] for k in batch]], dim=-1)
            # Extra room for the forms left out and the cases of one word ("Paris", "paris").
            nearest = (query @ targets.T).topk(min(8 * neighbours, len(candidates)), dim=1).indices.tolist()
            for key, row in zip(batch, nearest):
                picked: Dict[str, str] = {}
                script = _script(queries[key])
                for j in row:
                    if _script(candidates[j]) == script and not candidates[j].casefold().startswith(key[:3]):
                        picked.setdefault(candidates[j].casefold(), candidates[j])
                if picked:
                    found_neighbours[key] = list(picked.values())[:neighbours]
        out[lang] = found_neighbours
    return out
