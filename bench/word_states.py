"""Soft labels with the teacher's per-word hidden states, for a hidden-state distillation ablation.

    .venv/bin/python -m bench.word_states --soft-labels DIR --teacher DIR --output DIR

Copies a TeacherInference output folder to `--output` and adds to each train row
`teacher_word_states`: the fine-tuned teacher's final hidden state at each word's first sub-token
(what its slot head reads), standardised per dimension over the train split, words x hidden size,
row-major. `bench.ablate --soft-labels OUTPUT --set distillation.word_state_weight=W` then trains
the student to also regress them from its QRNN outputs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import List, Optional

import numpy as np
import tensorflow as tf
import torch

from schemas.features import TOKENS, TRAIN, split_file_pattern
from teacher.inputs import collate, encode_words
from teacher.model import load_teacher

WORD_STATES = "teacher_word_states"
BATCH_ROWS = 128


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.word_states", description=__doc__.split("\n\n")[0])
    parser.add_argument("--soft-labels", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)
    model, tokenizer = load_teacher(args.teacher)
    shutil.copytree(args.soft_labels, args.output)
    pattern = split_file_pattern(args.output, TRAIN)
    files = sorted(tf.io.gfile.glob(pattern))
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    inputs = [
        encode_words([t.decode() for t in ex.features.feature[TOKENS].bytes_list.value], tokenizer, args.max_length)
        for ex in records
    ]
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]["input_ids"]))
    states: List[np.ndarray] = [np.zeros(0)] * len(inputs)
    with torch.no_grad():
        for start in range(0, len(order), BATCH_ROWS):
            rows = order[start : start + BATCH_ROWS]
            batch = collate([inputs[i] for i in rows], pad_token_id=model.config.pad_token_id or 0)
            encoded = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            hidden = encoded.last_hidden_state
            index = batch["word_index"].unsqueeze(-1).expand(-1, -1, hidden.size(-1))
            words = torch.gather(hidden, 1, index) + model.continuation(batch["word_continuation"])
            words = (words * batch["word_mask"].unsqueeze(-1)).float().numpy()
            for j, i in enumerate(rows):
                states[i] = words[j, : len(inputs[i]["word_index"])]
    every_word = np.concatenate(states)
    mean, std = every_word.mean(0), every_word.std(0) + 1e-6
    for path in files:
        os.remove(path)
    with tf.io.TFRecordWriter(files[0], options="GZIP") as writer:
        for ex, word_states in zip(records, states):
            ex.features.feature[WORD_STATES].float_list.value.extend(((word_states - mean) / std).reshape(-1).tolist())
            writer.write(ex.SerializeToString())
    print(f"bench.word_states: {len(records)} train rows, {every_word.shape} word states; {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
