"""Dagster jobs of wiring_pipeline; definitions.py assembles them."""
