"""Dagster sensors of wiring_pipeline; definitions.py assembles them."""
