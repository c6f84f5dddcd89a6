"""Measuring the wiring: the metrics of the contract counted for one partition or the fleet.

Owns the one-query measurement and its samples (`measure`), the stored snapshots and the
deltas against the previous one (`snapshots`) and the set-based measurement of every
partition in chunks (`fleet`). Imports `contract` and `core`, never another stage.
"""
