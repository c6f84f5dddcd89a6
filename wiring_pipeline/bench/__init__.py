"""`wiring-pipeline bench`: the pipeline against the SQL floor and the per-row approach.

Not domain code: the benchmark creates its own database and engine and owns its
transactions, one per stage, exactly as the Dagster assets do.
"""
