"""Backfill: the audited, undoable per-partition repair of legacy wiring, and what follows it."""
