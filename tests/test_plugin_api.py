"""The public plugin API (``mayak``): what it exports is documented, plugins import nothing else, the one hook
caller's policies and order, plugin names that would take core tables, and the template vocabulary."""

from __future__ import annotations

import ast
import logging
import re
import types
from pathlib import Path

import pluggy
import pytest
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_NAMESPACE, DEFAULT_TESTS

import mayak
import mayak.testing
import mayak.web
from core.config import PROJECT_ROOT
from core.errors import StartupError
from core.plugins.hookspecs import PROJECT
from core.plugins.manager import MayakPlugins, Policy, check_name, core_table_names
from core.testing import fixtures as core_fixtures
from core.testing.fixtures import app_environ

DOCS = (PROJECT_ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = DOCS.index(f"\n## {title}")
    end = DOCS.find("\n## ", start + 1)
    return DOCS[start:end if end != -1 else None]


def _backticked(text: str) -> set[str]:
    """Every name written in backticks, also as the head of a call or attribute (`notify(user_ids, ...)`)."""
    names = set()
    for code in re.findall(r"`([^`]+)`", text):
        names.update(re.findall(r"^\W*([A-Za-z_][A-Za-z0-9_]*)", code))
    return names


# --- the public API ---------------------------------------------------------------------------------------------


def test_every_public_name_resolves():
    for module in (mayak, mayak.web, mayak.testing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, f"{module.__name__}.__all__ names what it does not define: {missing}"
        assert len(set(module.__all__)) == len(module.__all__)


def test_every_public_name_is_documented():
    documented = _backticked(_section("The public API"))
    for module in (mayak, mayak.web):
        missing = sorted(set(module.__all__) - documented)
        assert not missing, f"document these {module.__name__} names in docs/plugins.md, 'The public API': {missing}"


def test_testing_kit_reexports_the_core_fixtures():
    fixtures = {name for name, value in vars(core_fixtures).items()
                if getattr(value, "_fixture_function", None) is not None or type(value).__name__.startswith("Fixture")}
    assert fixtures, "core.testing.fixtures defines fixtures"
    assert fixtures <= set(mayak.testing.__all__)


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_bundled_plugins_import_only_mayak():
    # import-linter checks the packages; this also reads what it cannot see (migration scripts, templates' helpers)
    wrong = [f"{path.relative_to(PROJECT_ROOT)}:{line} imports {name}"
             for path in sorted((PROJECT_ROOT / "plugins").rglob("*.py"))
             for line, name in _imports(path) if name == "core" or name.startswith("core.")]
    assert not wrong, "plugins import only mayak (docs/plugins.md, 'The public API'):\n" + "\n".join(wrong)


def test_services_never_touch_the_request():
    request_bound = {"request", "g", "session", "current_app.login_manager"}
    wrong = []
    for path in sorted((PROJECT_ROOT / "core" / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "flask":
                wrong += [f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} flask.{a.name}"
                          for a in node.names if a.name in request_bound]
            elif isinstance(node, ast.Attribute) and node.attr in request_bound \
                    and isinstance(node.value, ast.Name) and node.value.id == "flask":
                wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} flask.{node.attr}")
    assert not wrong, "services know nothing of the request (ARCHITECTURE §8):\n" + "\n".join(wrong)


def test_core_never_imports_mayak():
    wrong = [f"{path.relative_to(PROJECT_ROOT)}:{line}"
             for path in sorted((PROJECT_ROOT / "core").rglob("*.py"))
             for line, name in _imports(path) if name == "mayak" or name.startswith("mayak.")]
    assert not wrong, wrong


# --- one hook caller ---------------------------------------------------------------------------------------------

hookimpl = pluggy.HookimplMarker(PROJECT)


def _plugin(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(f"tests_plugin_api_{name}")
    module.__file__ = __file__
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def _manager(tmp_path: Path, *plugins: tuple[str, types.ModuleType]) -> MayakPlugins:
    config = tmp_path / "plugins.toml"
    config.write_text("", encoding="utf-8")
    manager = MayakPlugins(config, available=[], environ={})
    manager.load(_plugin("core_stand_in"), extra=plugins)
    return manager


def _answering(value: object, **marks: bool):  # type: ignore[no-untyped-def]
    @hookimpl(**marks)
    def nav_items(user):  # type: ignore[no-untyped-def]
        return value
    return nav_items


def test_one_order_tryfirst_then_later_registered_then_trylast(tmp_path):
    manager = _manager(tmp_path,
                       ("first_registered", _plugin("a", nav_items=_answering(["a"]))),
                       ("eager", _plugin("b", nav_items=_answering(["b"], tryfirst=True))),
                       ("last_registered", _plugin("c", nav_items=_answering(["c"]))),
                       ("modest", _plugin("d", nav_items=_answering(["d"], trylast=True))))
    answers = manager.call("nav_items", Policy.ISOLATED, user=None)
    assert [a.plugin for a in answers] == ["eager", "last_registered", "first_registered", "modest"]
    # the same order pluggy itself calls them in
    assert [v for values in manager.pm.hook.nav_items(user=None) for v in values] == ["b", "c", "a", "d"]
    assert manager.collect("nav_items", user=None) == ["b", "c", "a", "d"]


def test_isolated_logs_and_skips_a_raising_plugin(tmp_path, caplog):
    @hookimpl
    def nav_items(user):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    manager = _manager(tmp_path, ("fine", _plugin("fine", nav_items=_answering(["ok"]))),
                       ("broken", _plugin("broken", nav_items=nav_items)))
    with caplog.at_level(logging.ERROR):
        answers = manager.call("nav_items", Policy.ISOLATED, user=None)
    assert [(a.plugin, a.value, type(a.error).__name__) for a in answers] == [
        ("broken", None, "RuntimeError"), ("fine", ["ok"], "NoneType")]
    assert "plugin 'broken' failed in hook nav_items" in caplog.text
    assert manager.call_each("nav_items", user=None) == [("fine", ["ok"])]
    with pytest.raises(StartupError, match="plugin 'broken' failed in nav_items: RuntimeError: boom"):
        manager.call("nav_items", Policy.STRICT, user=None)


def test_first_stops_at_the_first_answer_and_only_asks_one_plugin(tmp_path):
    calls = []

    def answering(value: object):  # type: ignore[no-untyped-def]
        @hookimpl
        def country_rules():  # type: ignore[no-untyped-def]
            calls.append(value)
            return value
        return country_rules

    manager = _manager(tmp_path, ("fallback", _plugin("x", country_rules=answering("fallback rules"))),
                       ("silent", _plugin("y", country_rules=answering(None))),
                       ("ignored", _plugin("z", country_rules=answering("never reached"))),
                       ("shy", _plugin("w", country_rules=answering(None))))
    assert [(a.plugin, a.value) for a in manager.call("country_rules", Policy.FIRST)] == [
        ("ignored", "never reached")]
    assert calls == [None, "never reached"]
    assert [a.value for a in manager.call("country_rules", Policy.FIRST, only="fallback")] == ["fallback rules"]
    assert manager.call("country_rules", Policy.FIRST, only="silent") == []


def test_hook_wrappers_are_refused(tmp_path):
    @hookimpl(wrapper=True)
    def nav_items(user):  # type: ignore[no-untyped-def]
        return (yield)

    with pytest.raises(StartupError, match="nav_items is a hook wrapper"):
        _manager(tmp_path, ("wrapping", _plugin("wrapping", nav_items=nav_items)))


# --- plugin names that would take core tables -------------------------------------------------------------------


def test_core_tables_come_from_the_core_metadata():
    tables = core_table_names()
    assert {"inbox_item", "lead_form", "import_batch", "deal", "task", "contact", "user_account", "job_record",
            "outbox_event", "audit_entry", "alembic_version"} <= set(tables)
    assert not [t for t in tables if t.startswith("ops_")], "plugin tables are not core tables"


@pytest.mark.parametrize("name", ["inbox", "lead", "import", "deal", "task", "contact", "company", "user", "event",
                                  "job", "outbox", "audit", "alembic", "core"])
def test_names_of_core_table_prefixes_are_refused(name):
    with pytest.raises(StartupError) as info:
        check_name(name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["ops", "webhooks", "card_basics", "mail_notify", "zadarma", "inboxes", "leads"])
def test_other_names_are_fine(name):
    check_name(name)


def test_a_plugin_named_inbox_is_refused_at_start_up(tmp_path):
    from core import create_app

    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text('[plugins.inbox]\nmodule = "tests.plugins.raising"\n', encoding="utf-8")
    environ = app_environ(f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "instance",
                          MAYAK_PLUGINS_FILE=str(plugins_file))
    with pytest.raises(StartupError) as info:
        create_app({"TESTING": True}, environ=environ)
    message = str(info.value)
    assert "\n" not in message
    assert "plugin name 'inbox' would claim the core tables inbox_channel, inbox_item" in message


# --- templates: blocks, macros, filters ---------------------------------------------------------------------------


def test_template_blocks_macros_and_filters_are_documented(app):
    documented = _backticked(_section("Templates: blocks, macros, filters"))
    templates = PROJECT_ROOT / "core" / "templates"
    blocks = set(re.findall(r"{%-?\s*block\s+(\w+)", (templates / "base.html").read_text(encoding="utf-8")))
    macros = set(re.findall(r"{%-?\s*macro\s+(\w+)", (templates / "_macros.html").read_text(encoding="utf-8")))
    builtin_globals = set(DEFAULT_NAMESPACE)
    filters = set(app.jinja_env.filters) - set(DEFAULT_FILTERS)
    tests = set(app.jinja_env.tests) - set(DEFAULT_TESTS)
    globals_ = {name for name in set(app.jinja_env.globals) - builtin_globals
                if not name.startswith("_") and name not in ("config", "request", "session", "g", "url_for",
                                                             "get_flashed_messages")}
    for kind, names in (("block", blocks), ("macro", macros), ("filter", filters), ("test", tests),
                        ("global", globals_)):
        missing = sorted(names - documented)
        assert not missing, f"document these template {kind}s in docs/plugins.md: {missing}"
