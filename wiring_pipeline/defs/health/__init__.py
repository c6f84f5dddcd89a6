"""Wiring health: the metrics snapshot, its zero-orphan checks, alerts and the nightly schedule."""
