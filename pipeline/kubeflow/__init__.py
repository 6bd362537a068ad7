"""Kubeflow Pipelines and Vertex AI Pipelines: the same `create_pipeline(config)` as the local run.

`compiler` writes the KFP v2 spec (`python -m pipeline compile`), `submit` sends it to Kubeflow
Pipelines and `vertex` to Vertex AI Pipelines (`python -m pipeline submit [--vertex]`),
`kfp_local` runs a spec compiled with a local root on this machine (`python -m pipeline
kfp-local`), and `settings` holds what they agree on without importing TFX.
"""
