"""Dagster assets of wiring_pipeline; definitions.py assembles them."""
