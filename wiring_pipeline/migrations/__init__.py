"""Alembic migrations of the `migration` schema, shipped inside the package."""
