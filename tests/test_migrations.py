"""The schema comes from migrations, and the models agree with it, on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from core import migrate
from core.db import db


def test_models_and_migrations_agree(app):
    with app.app_context():
        assert migrate.pending_differences() == []


def test_each_unit_has_its_own_version_table(app):
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"alembic_version", "alembic_version_ops", "ops_purge_run", "user_account"} <= tables
        assert migrate.current_revisions() == {"core": "core_0003", "ops": "ops_0001"}


def test_upgrade_is_idempotent(app):
    with app.app_context():
        assert migrate.upgrade() == ["core", "ops"]  # card_basics has no tables
        assert migrate.pending_differences() == []


def test_db_check_command(app):
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0 and "agree" in result.output
