"""Constraints: the tenant-scoped foreign keys on the wiring links, added and validated."""
