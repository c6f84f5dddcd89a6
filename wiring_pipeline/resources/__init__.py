"""Dagster resources of wiring_pipeline."""

from wiring_pipeline.resources.wiring_database import WiringDatabase

__all__ = ["WiringDatabase"]
