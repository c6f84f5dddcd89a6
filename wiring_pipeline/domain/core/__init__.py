"""The bottom layer: what every query of a partition stands on.

Owns the tenant scope and its one partition filter (`tenancy`), the errors a user is shown
(`errors`), the tables (`schema`, the SQLAlchemy mirror of the Alembic migrations) and the
planner-statistics rule after bulk writes (`statistics`). Imports nothing of the project.
"""
