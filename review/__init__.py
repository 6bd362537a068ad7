"""Review of a pipeline run, read from its MLMD store: the end-of-run summary of `make run` and
the HTML + JSON report of `python -m pipeline report`.

    run_store   the one reader of the store: runs of a pipeline, a run's executions and artifacts
    evaluation  TFMA results: metrics overall / per language / per intent, gates, the verdict
    summary     the short text summary printed after a local run
    artifacts   what the stages wrote: data counts, dead letters, config used, lineage, curves
    rescoring   intent confusion and slot F1 per slot type, by re-running the evaluated model
    speed       size and single-query latency of student and teacher (timing shared with bench/)
    report      everything the report shows as JSON-able data, and the comparison of two runs
    charts      the report's matplotlib charts as base64 PNGs
    render      the HTML page (`template`) and the JSON file
    cli         `add_report_arguments`, `main_report`

Takes plain values (store path, pipeline name, ...), never the pipeline's config object: it
imports the libraries (`schemas`, `models`, `pqrnn`, `teacher`) but not `pipeline` or
`components`.
"""
