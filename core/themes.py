"""Themes and the template search order.

Templates are looked up in: ``instance/templates`` (site overrides), the active theme, the enabled plugins (in
``plugins.toml`` order; each keeps its templates under ``<plugin>/``), then core. ``core:base.html`` always names
core's own template, so an override can extend the original it replaces.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from flask import Flask, abort, send_from_directory
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PrefixLoader

from core.config import PROJECT_ROOT, Settings
from core.errors import StartupError
from core.plugins.manager import MayakPlugins

THEMES_DIR = PROJECT_ROOT / "themes"
CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"


def find_theme(settings: Settings) -> Path:
    for base in (settings.instance_path / "themes", THEMES_DIR):
        candidate = base / settings.theme
        if (candidate / "theme.toml").is_file():
            return candidate
    available = sorted(p.name for p in THEMES_DIR.iterdir() if (p / "theme.toml").is_file())
    raise StartupError(f"MAYAK_THEME {settings.theme!r} is not installed; available: {', '.join(available)}")


def theme_meta(theme_dir: Path) -> dict[str, object]:
    return tomllib.loads((theme_dir / "theme.toml").read_text(encoding="utf-8"))


def template_loader(settings: Settings, theme_dir: Path, manager: MayakPlugins) -> BaseLoader:
    loaders: list[BaseLoader] = [FileSystemLoader(str(settings.instance_path / "templates"))]
    loaders.append(FileSystemLoader(str(theme_dir / "templates")))
    loaders.extend(FileSystemLoader(str(p.templates_dir)) for p in manager.enabled if p.templates_dir.is_dir())
    loaders.append(FileSystemLoader(str(CORE_TEMPLATES)))
    loaders.append(PrefixLoader({"core": FileSystemLoader(str(CORE_TEMPLATES))}, delimiter=":"))
    return ChoiceLoader(loaders)


def init_themes(app: Flask, settings: Settings, manager: MayakPlugins) -> None:
    theme_dir = find_theme(settings)
    meta = theme_meta(theme_dir)
    app.jinja_loader = template_loader(settings, theme_dir, manager)  # type: ignore[assignment]
    app.config["MAYAK_THEME_META"] = {"name": settings.theme, **meta}
    static_dirs = {p.name: p.static_dir for p in manager.enabled if p.static_dir.is_dir()}

    @app.get("/static/theme/<path:filename>", endpoint="theme_static")
    def theme_static(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(theme_dir / "static", filename, max_age=3600)

    @app.get("/static/plugins/<name>/<path:filename>", endpoint="plugin_static")
    def plugin_static(name: str, filename: str):  # type: ignore[no-untyped-def]
        folder = static_dirs.get(name)
        if folder is None:
            abort(404)
        return send_from_directory(folder, filename, max_age=3600)
