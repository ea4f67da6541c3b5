"""Alembic environment and revisions: one revision per file in ``sql/migrations``."""
