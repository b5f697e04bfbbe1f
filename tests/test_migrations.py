"""The schema comes from migrations, and the models agree with it, on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from core import migrate
from core.db import db, unit_of_work


def test_models_and_migrations_agree(app):
    with app.app_context(), unit_of_work():
        assert migrate.pending_differences() == []


def test_each_unit_has_its_own_version_table(app):
    with app.app_context(), unit_of_work():
        tables = set(inspect(db.engine).get_table_names())
        assert {"alembic_version", "alembic_version_ops", "ops_purge_run", "user_account"} <= tables
        from alembic.script import ScriptDirectory

        core_head = ScriptDirectory.from_config(migrate.alembic_config(migrate.find_unit("core"))).get_current_head()
        assert migrate.current_revisions() == {"core": core_head, "ops": "ops_0001"}


def test_upgrade_is_idempotent(app):
    with app.app_context(), unit_of_work():
        assert migrate.upgrade() == ["core", "ops"]  # card_basics has no tables
        assert migrate.pending_differences() == []


def test_db_check_command(app):
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0 and "agree" in result.output


def test_upgrading_keeps_existing_data(database_url, tmp_path):
    """Each revision must keep what earlier ones stored (SQLite rebuilds tables to change them: a rebuild with
    foreign keys on would cascade-delete child rows)."""
    from alembic import command
    from sqlalchemy import text

    from core import create_app
    from core.testing.fixtures import TEST_CONFIG, app_environ
    from core.testing.services import create_postgres_database, drop_postgres_database

    url = (f"sqlite:///{tmp_path / 'old.db'}" if database_url.startswith("sqlite")
           else create_postgres_database("mayak_upgrade"))
    try:
        app = create_app(TEST_CONFIG, environ=app_environ(url, tmp_path / "instance"))
        with app.app_context(), unit_of_work():
            command.upgrade(migrate.alembic_config(migrate.find_unit("core")), "core_0001")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO role (id, name, description) VALUES (1, 'Old role', '')"))
                conn.execute(text("INSERT INTO role_grant (role_id, entity, action, scope) "
                                  "VALUES (1, 'user', 'view', 'all')"))
                conn.execute(text("INSERT INTO user_account (id, email, full_name, password_hash, is_active, "
                                  "is_admin, session_token, created_at) VALUES (1, 'a@b.c', '', 'x', true, false, "
                                  "'t', CURRENT_TIMESTAMP)"))
                conn.execute(text("INSERT INTO user_role (user_id, role_id) VALUES (1, 1)"))
            command.upgrade(migrate.alembic_config(migrate.find_unit("core")), "core_0002")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO company (id, name, search_name, industry, website, city, region, "
                                  "source, notes, custom, created_at, updated_at) VALUES (1, 'Co', 'co', '', '', '',"
                                  " '', '', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
                conn.execute(text("INSERT INTO contact (id, first_name, middle_name, last_name, search_lf, search_fl,"
                                  " job_title, city, region, source, notes, custom, created_at, updated_at) VALUES "
                                  "(1, 'P', '', '', 'p', 'p', '', '', '', '', '', '{}', CURRENT_TIMESTAMP, "
                                  "CURRENT_TIMESTAMP)"))
                conn.execute(text("INSERT INTO contact_company (contact_id, company_id, job_title, position) "
                                  "VALUES (1, 1, 'boss', 0)"))
            migrate.upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM user_role")).scalar() == 1
                assert conn.execute(text("SELECT count(*) FROM role_grant")).scalar() == 1
                assert conn.execute(text("SELECT count(*) FROM contact_company")).scalar() == 1
            db.engine.dispose()
    finally:
        if not url.startswith("sqlite"):
            drop_postgres_database(url)
