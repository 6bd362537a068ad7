"""tf.Transform: the label vocabularies, the one source of the label order downstream.

The vocabularies are computed over the train split by tf.Transform analyzers ("O" first,
then by frequency) and read from the `TransformGraph` artifact by TeacherFinetune (the
teacher's heads), TeacherInference (the order of the soft labels' logits) and the Trainer
(`fn_args.transform_output`: the student's heads and its export), so teacher logits,
student logits and gold ids share one label order. The Evaluator compares label strings.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from schemas.features import INTENT, INTENT_VOCAB, OUTSIDE_TAG, SLOT_TAG_VOCAB, SLOT_TAGS


def _dense(x) -> tf.Tensor:
    return tf.sparse.to_dense(x, default_value="") if isinstance(x, tf.sparse.SparseTensor) else x


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    intent = tf.reshape(_dense(inputs[INTENT]), [-1])
    intent_id = tft.compute_and_apply_vocabulary(intent, vocab_filename=INTENT_VOCAB, default_value=-1)
    # "O" first: padding and "no slot" share the same id in every consumer.
    slot_tag_ids = tft.compute_and_apply_vocabulary(
        inputs[SLOT_TAGS], vocab_filename=SLOT_TAG_VOCAB, default_value=-1, reserved_tokens=[OUTSIDE_TAG]
    )
    return {"intent_id": intent_id, "slot_tag_ids": slot_tag_ids}


def label_vocabularies(transform_output_uri: str) -> Tuple[List[str], List[str]]:
    """(intents, slot tags) from a TransformGraph artifact's folder."""
    output = tft.TFTransformOutput(transform_output_uri)
    intents, tags = (
        [v.decode("utf-8") for v in output.vocabulary_by_name(name)] for name in (INTENT_VOCAB, SLOT_TAG_VOCAB)
    )
    return intents, tags
