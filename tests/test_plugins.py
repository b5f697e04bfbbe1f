"""The plugin manager: discovery through entry points, plugins.toml, and start-up errors in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from core import create_app
from core.config import PROJECT_ROOT
from core.errors import StartupError
from core.plugins.hookspecs import HOOK_NAMES
from core.testing.fixtures import app_environ


def build(tmp_path: Path, toml: str, **env: str):
    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text(toml, encoding="utf-8")
    environ = app_environ(f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "instance",
                          MAYAK_PLUGINS_FILE=str(plugins_file), **env)
    return create_app({"TESTING": True}, environ=environ)


def startup_error(tmp_path: Path, toml: str, **env: str) -> str:
    with pytest.raises(StartupError) as info:
        build(tmp_path, toml, **env)
    message = str(info.value)
    assert "\n" not in message, "start-up errors are one line"
    return message


def test_bundled_plugins_are_entry_points():
    names = {ep.name: ep.value for ep in entry_points(group="mayak")}
    assert names["l10n_ru"] == "plugins.l10n_ru.plugin"
    assert names["ops"] == "plugins.ops.plugin"


def test_enabled_plugins_follow_plugins_toml(tmp_path):
    app = build(tmp_path, "[plugins.ops]\n[plugins.l10n_ru]\nenabled = false\n")
    manager = app.extensions["mayak.plugins"]
    assert [p.name for p in manager.enabled] == ["ops"]
    assert manager.pm.get_plugin("l10n_ru") is None


def test_unknown_plugin_names_the_fix(tmp_path):
    message = startup_error(tmp_path, "[plugins.zadarmaa]\n")
    assert "unknown plugin 'zadarmaa'" in message
    assert "installed:" in message and "l10n_ru" in message
    assert "remove [plugins.zadarmaa]" in message


def test_plugin_that_fails_to_import(tmp_path):
    message = startup_error(tmp_path, '[plugins.broken]\nmodule = "tests.plugins.broken_import"\n')
    assert "plugin 'broken' failed to import" in message
    assert "mayak_dependency_that_is_not_installed" in message


def test_hook_with_a_wrong_argument(tmp_path):
    message = startup_error(tmp_path, '[plugins.bad]\nmodule = "tests.plugins.bad_signature"\n')
    assert "plugin 'bad' has a wrong hook implementation" in message
    assert "colour" in message


def test_misspelled_hook_fails_check_pending(tmp_path):
    message = startup_error(tmp_path, '[plugins.typo]\nmodule = "tests.plugins.unknown_hook"\n')
    assert "plugin 'typo' implements an unknown hook" in message and "nav_itemz" in message


def test_missing_secret_environment_variable(tmp_path, monkeypatch):
    # secrets come from the app's environment (create_app(environ=...)), never from the process's behind its back
    monkeypatch.setenv("MAYAK_TEST_SECRET", "from the process")
    toml = '[plugins.s]\nmodule = "tests.plugins.with_secret"\napi_key = { env = "MAYAK_TEST_SECRET" }\n'
    message = startup_error(tmp_path, toml)
    assert "needs the environment variable MAYAK_TEST_SECRET" in message
    app = build(tmp_path, toml, MAYAK_TEST_SECRET="s3cr3t")
    assert app.extensions["mayak.plugins"].info("s").settings.api_key == "s3cr3t"


def test_literal_secret_is_refused(tmp_path):
    message = startup_error(tmp_path, '[plugins.s]\nmodule = "tests.plugins.with_secret"\napi_key = "s3cr3t"\n')
    assert "is a secret" in message and "{ env =" in message
    assert "s3cr3t" not in message


def test_unknown_setting_is_refused(tmp_path):
    toml = ('[plugins.s]\nmodule = "tests.plugins.with_secret"\napi_key = { env = "MAYAK_TEST_SECRET" }\n'
            'regoin = "US"\n')
    assert "bad settings in [plugins.s]" in startup_error(tmp_path, toml, MAYAK_TEST_SECRET="x")


def test_bad_toml_and_missing_file(tmp_path):
    assert "is not valid TOML" in startup_error(tmp_path, "[plugins.ops\n")
    with pytest.raises(StartupError, match="not found"):
        create_app(environ=app_environ(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "i",
                                       MAYAK_PLUGINS_FILE=str(tmp_path / "nope.toml")))


def test_ops_settings_are_validated(tmp_path):
    assert "job_retention_days must be a whole number" in startup_error(
        tmp_path, "[plugins.ops]\njob_retention_days = 0\n")


def test_cli_prints_one_line_and_exits_1(tmp_path):
    (tmp_path / "plugins.toml").write_text("[plugins.nosuchplugin]\n")
    env = {"PATH": "/usr/bin:/bin", "MAYAK_INSTANCE_PATH": str(tmp_path / "i"),
           "MAYAK_PLUGINS_FILE": str(tmp_path / "plugins.toml")}
    result = subprocess.run([sys.executable, "-m", "core.cli", "plugins", "list"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("mayak: ") and "unknown plugin 'nosuchplugin'" in result.stderr


def test_plugins_list_command(app):
    result = app.test_cli_runner().invoke(args=["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["name"]: row for row in data["enabled"]}
    assert rows["ops"]["healthy"] is True
    assert "register_jobs" in rows["ops"]["hooks"]
    assert rows["l10n_ru"]["hooks"] == ["country_rules", "register_locales"]


def test_every_hook_is_exercised_by_a_bundled_plugin(tmp_path):
    app = build(tmp_path, (PROJECT_ROOT / "plugins.toml").read_text())
    manager = app.extensions["mayak.plugins"]
    used = {hook for info in manager.enabled if info.bundled for hook in manager.hooks_of(info.name)}
    # core's own implementations count (inbox channels, timeline kinds, routing a call to the client's manager),
    # and so do the test plugins the suite loads (no bundled plugin is a provider or receives webhooks yet:
    # tests/plugins/telecom and tests/plugins/hooktest do)
    used |= set(manager.hooks_of("core")) | _hooks_of_test_plugins()
    assert set(HOOK_NAMES) - used == set()


def _hooks_of_test_plugins() -> set[str]:
    import importlib
    import inspect

    found: set[str] = set()
    for path in (PROJECT_ROOT / "tests" / "plugins").iterdir():
        if path.name.startswith("_") or not (path.suffix == ".py" or (path / "__init__.py").exists()):
            continue
        try:
            package = importlib.import_module(f"tests.plugins.{path.stem}")
        except ImportError:
            continue  # broken_import.py: a plugin that fails to import, on purpose
        modules = [package]
        if path.is_dir():
            modules += [importlib.import_module(f"tests.plugins.{path.stem}.{sub.stem}")
                        for sub in path.glob("*.py") if sub.stem != "__init__"]
        for module in modules:
            for name, value in vars(module).items():
                if not inspect.isfunction(value):
                    continue
                marker = getattr(value, "mayak_impl", None)
                if marker is not None:
                    found.add(marker.get("specname") or name)
    return found


def test_every_hook_is_documented():
    docs = (PROJECT_ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#### `(\w+)", docs, flags=re.MULTILINE))
    assert set(HOOK_NAMES) - documented == set(), "document these hooks in docs/plugins.md"
    assert documented - set(HOOK_NAMES) == set(), "docs/plugins.md documents hooks that do not exist"


def test_plugin_static_and_templates_are_served(admin_client):
    assert admin_client.get("/static/plugins/ops/ops.css").status_code == 200
    assert admin_client.get("/static/plugins/ops/../../../pyproject.toml").status_code == 404
    assert admin_client.get("/static/plugins/nope/x.css").status_code == 404
    page = admin_client.get("/admin/jobs/")
    assert b"/static/plugins/ops/ops.css" in page.data
