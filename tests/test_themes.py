"""Themes: CSS variables and one template override; the search order instance > theme > plugins > core."""

from __future__ import annotations

import pytest

from core import create_app
from core.errors import StartupError
from core.testing.fixtures import TEST_CONFIG, app_environ


def _login_page(database_url, tmp_path, **env):
    app = create_app(TEST_CONFIG, environ=app_environ(database_url, tmp_path / "instance", **env))
    return app, app.test_client().get("/login").data.decode()


def test_default_theme_uses_core_brand(app, database_url, tmp_path):
    _, html = _login_page(database_url, tmp_path)
    assert 'data-theme="default"' in html and "brand-night" not in html


def test_dark_theme_overrides_brand_and_variables(app, database_url, tmp_path):
    app, html = _login_page(database_url, tmp_path, MAYAK_THEME="dark")
    assert 'data-theme="dark"' in html and "brand-night" in html
    css = app.test_client().get("/static/theme/theme.css").data.decode()
    assert "--mayak-nav-bg" in css


def test_instance_templates_override_the_theme_and_can_extend_core(app, database_url, tmp_path):
    templates = tmp_path / "instance" / "templates"
    templates.mkdir(parents=True)
    (templates / "_brand.html").write_text('<span class="site-brand">ACME</span>')
    (templates / "base.html").write_text(
        '{% extends "core:base.html" %}{% block head %}<meta name="site" content="acme">{% endblock %}')
    _, html = _login_page(database_url, tmp_path, MAYAK_THEME="dark")
    assert "site-brand" in html and "brand-night" not in html
    assert '<meta name="site" content="acme">' in html and 'name="email"' in html


def test_unknown_theme_stops_start_up(tmp_path, database_url):
    with pytest.raises(StartupError, match="MAYAK_THEME 'neon' is not installed; available: dark, default"):
        create_app(TEST_CONFIG, environ=app_environ(database_url, tmp_path, MAYAK_THEME="neon"))
