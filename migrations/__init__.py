"""Alembic environment and the core revisions (each plugin keeps its own under ``<plugin>/migrations``)."""
