"""The edge that owns the database's transactions: engines, migrations, units of work, retries.

Domain code takes a `Connection` and never begins or commits (DESIGN 4, rule 1); this package
is where a connection is opened, a partition's advisory lock taken, a transaction committed or
rolled back, and a lock wait retried. Dagster steps (through `resources/`), the CLI and the
HTTP API all open their units of work here. It imports `domain/` and never Dagster.
"""
