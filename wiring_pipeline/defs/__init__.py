"""The Dagster objects of wiring_pipeline, one folder per concept.

`discovery/` (files → raw → cleansed → inventory), `health/` (the wiring metrics, their
checks, alerts and the nightly schedule), `backfill/` (the audited repair of legacy rows),
`constraints/` (the tenant-scoped foreign keys). `wiring_pipeline/definitions.py` composes
them; `partitions.py` is the partitioning they share.
"""
