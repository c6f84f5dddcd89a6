"""The domain logic: plain functions over a SQLAlchemy `Connection`, no Dagster.

Every function here runs inside a transaction its caller owns; none begins, commits,
or creates an engine or a session (the lesson of the source plan, enforced by a test).

One package per concept, in layers; a package imports only the layers below it:

* `core/` (bottom): tenancy and the partition filter, errors, the table definitions,
  planner statistics. Imports nothing of the project.
* `contract/`: what every stage agrees on: the inventory fields, the states of a record
  and an asset, the links and the metrics over them, the foreign keys derived from the
  links. Imports `core`.
* the stages, each importing only `contract` and `core`, never one another:
  `ingest/` (tenants, flows and imports; the file readers; loading), `cleansing/`,
  `inventory/` (build, listing, export, history), `health/` (measure, snapshots, the
  fleet), `backfill/` (repairs of legacy links), `access/` (API tokens).

`wiring_pipeline_tests/domain/test_layers.py` holds the rule.
"""
