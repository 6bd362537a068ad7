"""pQRNN student (Kaliamoorthi et al. 2021): projection -> bottleneck -> bi-QRNN -> heads.

Library API (all tf_keras; set TF_USE_LEGACY_KERAS=1 before importing TensorFlow):

- `pqrnn.projection.Projection.from_config(student_config)(tokens: tf.RaggedTensor,
  training=False) -> features [b, T, B]`: weight-free ternary hash features of word
  tokens (stock TF ops; runs in tf.data and in serving graphs). Distortion only when
  `training=True`.
- `pqrnn.model.build_student(config: StudentConfig, num_intents, num_tags) -> PQRNNStudent`:
  a Keras model, features -> {"intent_logits": [b, C], "slot_logits": [b, W, S]} with
  word-aligned slot logits. `model.compile(optimizer, distillation=DistillationConfig)`
  then `model.fit(...)` on (features, targets) batches; `parameter_count(...)` gives its
  size in closed form.
- `pqrnn.losses.distillation_loss(intent_logits, slot_logits, slot_mask, teacher_*,
  gold_*, has_gold, temperature, teacher_logit_scale, gold_weight, ...)`: the loss terms.
- `pqrnn.data.ExampleDecoder(projection, intent_vocab, tag_vocab, soft_labels)` and
  `pqrnn.data.make_dataset(file_pattern, decoder, batch_size, training)`: batches from the
  dataset job's gzipped tf.Examples; labels come as lists (in the pipeline, from tf.Transform).
- `pqrnn.export.export_saved_model(model, intent_vocab, tag_vocab, path)`: SavedModel with
  signatures on raw text (serving_default), tokens (serve_tokens), tf.Examples
  (serve_examples) and the projection (project_text); no project code needed to serve.
- `pqrnn.export.export_tflite_int8(model, representative_features, path)`: int8 TFLite
  encoder (features in, logits out, builtin int8 ops).
- `pqrnn.serving.FastStudent.from_saved_model(path)(text) -> Prediction`: the deployable
  single-query path on raw text: tokenizer + NumPy port of the projection (bit-exact) + the
  int8 TFLite encoder; no TensorFlow call per query (needs only NumPy and a TFLite interpreter).

Design decisions (the reference's quirks, the hash, QAT, TFLite): see DESIGN.md.
"""
