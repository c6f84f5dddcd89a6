"""The domain logic: plain functions over a SQLAlchemy `Connection`, no Dagster.

Every function here runs inside a transaction its caller owns; none begins, commits,
or creates an engine or a session (the lesson of the source plan, enforced by a test).
"""
