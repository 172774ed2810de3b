"""The pipeline: composes the layers below into the three stages, over whichever bus and index the
config names.

    poll:   feeds --(ingest: fetch, extract)--> produce(cleaned)          poll_stage.py
    enrich: consume(cleaned) -> RunTask(enrich) -> Produce(enriched) -> commit   enrich_stage.py
    index:  consume(enriched) -> RunTask(decode) -> batch -> write to the index -> commit   index_stage.py

``run_all.py`` runs the three in one process (`newsflow run`), ``daemons.py`` one per process
(`newsflow poll|enrich|index`). Nothing here imports the application (newsflow.settings, the CLI):
the settings arrive as a ``PipelineSettings`` (config.py).
"""
