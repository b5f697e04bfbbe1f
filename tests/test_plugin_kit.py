"""The plugin kit: core.testing's URL-map checks over a plugin's own blueprint (a cross_site webhook included), and
a plugin made by ``mayak plugins new``, built as a wheel, installed with the core's wheel into a fresh venv,
enabled, passing its own tests there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from core.testing.security import assert_url_map_safe, cross_site_endpoints
from tests.plugins import kit_careless, kit_sample


def test_a_plugins_routes_pass_the_url_map_checks(app, make_app):
    with_plugin = make_app(extra_plugins=[("kit_sample", kit_sample)])
    assert "kit_sample.hook" in cross_site_endpoints(with_plugin)  # declared by the marker, nowhere else
    checked = {(r.endpoint, r.method) for r in assert_url_map_safe(with_plugin, blueprints=["kit_sample"])}
    assert checked == {("kit_sample.page", "GET"), ("kit_sample.note", "POST"), ("kit_sample.hook", "POST")}
    assert kit_sample.received == []  # the unsigned post never reached the view's work


def test_a_cross_site_view_without_a_signature_check_is_caught(app, make_app):
    careless = make_app(extra_plugins=[("kit_careless", kit_careless)])
    with pytest.raises(AssertionError, match="accepted an empty unsigned post"):
        assert_url_map_safe(careless, blueprints=["kit_careless"])


# --- a scaffolded plugin, built as a wheel, installed with the core's wheel into a fresh venv ------------------

ROOT_ONLY = {".venv", ".git", "instance", "build", "dist", "tests", "bench", "test-results", "node_modules"}
ANYWHERE = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info")


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    """What the core's wheel is not built from: the checkout's own folders (its tests, not the templates')."""
    top = ROOT_ONLY & set(names) if Path(folder) == PROJECT_ROOT else set()
    return top | set(ANYWHERE(folder, names))


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(args[:4])}... failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment (the PostgreSQL and Redis the tests use) without anything that would put this
    checkout on the child's path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def _wheelhouse(rootdir: Path) -> Path:
    """Downloaded dependency wheels, kept between runs (pytest's cache folder, ignored by git)."""
    folder = Path(os.environ.get("MAYAK_KIT_WHEELHOUSE", rootdir / ".pytest_cache" / "mayak-plugin-kit" / "wheels"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> dict[str, Path]:
    """As an author would: the core's wheel installed into a fresh venv (one per test session), ``mayak plugins new
    smsgate --kind sms`` run from there, the new package built as a wheel and installed too. The venv's python,
    the package's folder and the work folder."""
    work = tmp_path_factory.mktemp("plugin-kit")
    env = _clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    source, dist = work / "core-source", work / "dist"
    shutil.copytree(PROJECT_ROOT, source, ignore=_not_shipped)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)], cwd=work,
         env=env)
    core_wheel = str(next(dist.glob("mayak_crm-*.whl")))
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env)
    python = venv / "bin" / "python"
    house = _wheelhouse(pytestconfig.rootpath)
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(house), core_wheel,
               "pytest"]
    if subprocess.run(install, cwd=work, env=env, capture_output=True, timeout=600, check=False).returncode != 0:
        # the first run, or new dependencies: fetch them from the package index into the wheelhouse
        _run([str(python), "-m", "pip", "wheel", "--quiet", "-w", str(house), "--find-links", str(house), core_wheel,
              "pytest"], cwd=work, env=env)
        _run(install, cwd=work, env=env)
    _run([str(venv / "bin" / "mayak"), "plugins", "new", "smsgate", "--kind", "sms"], cwd=work, env=env)
    package = work / "mayak-smsgate"
    _run([str(python), "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(package)], cwd=work, env=env)
    plugin_wheel = str(next(dist.glob("mayak_smsgate-*.whl")))
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", plugin_wheel], cwd=work, env=env)
    return {"python": python, "package": package, "work": work}


def test_a_scaffolded_plugin_installed_from_wheels_passes_its_tests(plugin_venv):
    python, package, work = plugin_venv["python"], plugin_venv["package"], plugin_venv["work"]
    sources = [*(package / "mayak_smsgate").rglob("*.py"), *(package / "tests").rglob("*.py")]  # not build/
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in sources)
    assert lines <= 150, f"the SMS plugin and its tests take {lines} lines of Python"
    run = work / "run"
    shutil.copytree(package / "tests", run / "tests")  # the tests only: the plugin comes from its wheel
    env = _clean_env(SMSGATE_API_KEY="the-deployed-key", MAYAK_INSTANCE_PATH=str(work / "instance"),
                     MAYAK_DATABASE_URL=f"sqlite:///{work / 'mayak.db'}",
                     MAYAK_PLUGINS_FILE=str(work / "plugins.toml"))
    where = _run([str(python), "-c", "import core, mayak_smsgate; print(core.__file__, mayak_smsgate.__file__)"],
                 cwd=run, env=env)
    assert str(PROJECT_ROOT) not in where and "site-packages" in where
    # enabled in an installation's plugins.toml, found through its entry point, migrated
    (work / "plugins.toml").write_text('[plugins.smsgate]\napi_key = { env = "SMSGATE_API_KEY" }\n')
    mayak = str(python.parent / "mayak")
    _run([mayak, "db", "upgrade"], cwd=run, env=env)
    listed = json.loads(_run([mayak, "plugins", "list", "--json"], cwd=run, env=env))
    assert [(p["name"], p["source"]) for p in listed["enabled"]] == [("smsgate", "mayak-smsgate")]
    output = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=run, env=env)
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and not re.search(r"failed|error", summary), output[-2000:]


@pytest.mark.parametrize("kind", ["telephony", "sms", "mail", "import"])
def test_every_kind_scaffolds_a_plugin_whose_tests_pass(kind, tmp_path):
    """Each kind's package, straight from the scaffold (before it is installed: its conftest enables it by module
    path), passes its tests against this checkout (on SQLite here; the wheel test above runs PostgreSQL too)."""
    from click.testing import CliRunner

    from core.cli import cli

    result = CliRunner().invoke(cli, ["plugins", "new", f"kit_{kind}", "--kind", kind, "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / f"mayak-kit-{kind}"
    assert {"pyproject.toml", "README.md"} <= {p.name for p in package.iterdir()}
    assert (package / f"mayak_kit_{kind}" / "translations" / "ru" / "LC_MESSAGES" / "messages.mo").is_file()
    assert (package / f"mayak_kit_{kind}" / "migrations" / "versions").is_dir()
    assert f'kit_{kind} = "mayak_kit_{kind}.plugin"' in (package / "pyproject.toml").read_text()
    env = _clean_env(PYTHONPATH=os.pathsep.join([str(package), str(PROJECT_ROOT)]))
    output = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not postgres", "tests"],
                  cwd=package, env=env)
    assert re.search(r"\b\d+ passed\b", output.strip().splitlines()[-1]), output[-2000:]


def test_the_scaffold_refuses_a_bad_name_and_an_existing_folder(tmp_path):
    from click.testing import CliRunner

    from core.cli import cli

    bad = CliRunner().invoke(cli, ["plugins", "new", "Bad-Name", "--kind", "sms", "--directory", str(tmp_path)])
    assert bad.exit_code == 2 and "lower-case" in bad.output
    twice = ["plugins", "new", "twice", "--kind", "sms", "--directory", str(tmp_path)]
    assert CliRunner().invoke(cli, twice).exit_code == 0
    again = CliRunner().invoke(cli, twice)
    assert again.exit_code == 1 and "exists" in again.output


@pytest.mark.parametrize(("broken", "caught_by"), [
    ("    return signature_matches(", "    return True or signature_matches("),
    ('(entry.data or {}).get("status_at", "") < at', "True"),
], ids=["no signature check", "last delivery wins"])
def test_the_conformance_kit_catches_a_broken_provider(broken, caught_by, tmp_path):
    """The kit bites: an SMS plugin that accepts any signature fails the signature test; one that lets the last
    delivery win instead of the latest event fails the out-of-order test."""
    from core.scaffold import scaffold

    package = scaffold("broken", "sms", tmp_path)
    plugin = package / "mayak_broken" / "plugin.py"
    assert broken in plugin.read_text()
    plugin.write_text(plugin.read_text().replace(broken, caught_by))
    env = _clean_env(PYTHONPATH=os.pathsep.join([str(package), str(PROJECT_ROOT)]))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not postgres",
                             "tests"], cwd=package, env=env, capture_output=True, text=True, timeout=600, check=False)
    expected = "wrong_or_missing_signature" if "signature" in broken else "out_of_order"
    failed = set(re.findall(r"FAILED tests/test_plugin.py::TestGateway::test_(\w+?)\[", result.stdout))
    assert {name for name in failed if expected in name} and result.returncode == 1, result.stdout[-2000:]
