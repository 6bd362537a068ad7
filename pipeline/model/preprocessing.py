"""tf.Transform: the label vocabularies every later stage uses, and gold labels as ids.

The vocabularies are computed over the train split by tf.Transform analyzers and read from
the `TransformGraph` artifact by the teacher fine-tune, teacher inference, the Trainer and
the Evaluator, so teacher logits, student logits and gold ids share one label order.
"""

from __future__ import annotations

from typing import Dict, List

import tensorflow as tf
import tensorflow_transform as tft

INTENT_VOCAB = "intent_vocab"
SLOT_TAG_VOCAB = "slot_tag_vocab"
OUTSIDE_TAG = "O"


def _dense(x) -> tf.Tensor:
    return tf.sparse.to_dense(x, default_value="") if isinstance(x, tf.sparse.SparseTensor) else x


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    intent = tf.reshape(_dense(inputs["intent"]), [-1])
    intent_id = tft.compute_and_apply_vocabulary(intent, vocab_filename=INTENT_VOCAB, default_value=-1)
    # "O" first: padding and "no slot" share the same id in every consumer.
    slot_tag_ids = tft.compute_and_apply_vocabulary(
        inputs["slot_tags"], vocab_filename=SLOT_TAG_VOCAB, default_value=-1, reserved_tokens=[OUTSIDE_TAG]
    )
    return {"intent_id": intent_id, "slot_tag_ids": slot_tag_ids}


def label_vocabularies(transform_graph_uri: str) -> Dict[str, List[str]]:
    """{"intents": [...], "slot_tags": [...]} from a TransformGraph artifact."""
    output = tft.TFTransformOutput(transform_graph_uri)
    return {
        "intents": [v.decode("utf-8") for v in output.vocabulary_by_name(INTENT_VOCAB)],
        "slot_tags": [v.decode("utf-8") for v in output.vocabulary_by_name(SLOT_TAG_VOCAB)],
    }
