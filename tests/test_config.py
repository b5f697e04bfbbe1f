"""Settings: one clear line for each bad value, and the embedded defaults."""

from __future__ import annotations

import pytest

from core.config import load_settings
from core.errors import StartupError


def env(tmp_path, **values):
    return {"MAYAK_INSTANCE_PATH": str(tmp_path), **values}


def test_embedded_defaults(tmp_path):
    settings = load_settings(env(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path / 'mayak.db'}"
    assert settings.embedded_jobs and settings.theme == "default"
    # language and time zone left unset: the country rules decide when the app is built (tests/test_i18n.py)
    assert settings.default_locale is None and settings.default_timezone is None
    assert (tmp_path / "secret_key").read_text() == settings.secret_key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert load_settings(env(tmp_path)).secret_key == settings.secret_key, "the generated key is kept"


def test_postgres_url_gets_the_psycopg_driver(tmp_path):
    settings = load_settings(env(tmp_path, MAYAK_DATABASE_URL="postgresql://u:p@db/mayak"))
    assert settings.database_url == "postgresql+psycopg://u:p@db/mayak"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MAYAK_DATABASE_URL", "not a url", "is not a database URL"),
    ("MAYAK_DATABASE_URL", "mysql://x/y", "Mayak supports sqlite and postgresql"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must start with redis://"),
    ("MAYAK_LOCALE", "xx_YY", "is not a locale"),
    ("MAYAK_TIMEZONE", "Mars/Olympus", "is not a time zone"),
    ("MAYAK_PHONE_REGION", "QQ", "is not a region"),
    ("MAYAK_SECRET_KEY", "short", "too short"),
])
def test_bad_values_stop_start_up_with_one_line(tmp_path, name, value, message):
    with pytest.raises(StartupError) as info:
        load_settings(env(tmp_path, **{name: value}))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unreachable_database_is_one_line(tmp_path):
    import subprocess
    import sys

    from core.config import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "db", "upgrade"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "MAYAK_INSTANCE_PATH": str(tmp_path),
                         "MAYAK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert result.stderr.startswith("mayak: ") and result.stderr.strip().count("\n") == 0, result.stderr
    assert "database" in result.stderr.lower()
