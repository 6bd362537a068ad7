"""User code of the TFX pipeline, referenced by dotted path: `preprocessing.preprocessing_fn`
(Transform), `train.run_fn` (Trainer), `fraction_of_teacher` (Evaluator metric)."""
