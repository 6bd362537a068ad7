"""TFMD schemas of the project's examples, importable so components find them by path."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))

# Examples written by beam_jobs.build_dataset.
DATASET_SCHEMA = os.path.join(_HERE, "dataset", "schema.pbtxt")
# Examples written by teacher inference: the dataset features plus the soft labels.
SOFT_LABEL_SCHEMA = os.path.join(_HERE, "soft_labels", "schema.pbtxt")
