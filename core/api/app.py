"""Wiring the API into the app: its routes, error handlers and JSON encoder (called by the app factory).

Kept apart from ``core/api/__init__.py`` (the blueprint and what views share) so that the package never imports
its views and the views import the package without a circle.
"""

from __future__ import annotations

from flask import Flask

from core.api import bp, clients, errors, openapi, validation, work  # noqa: F401 - clients, work register routes
from core.api.encoder import FiniteJSONProvider
from core.extensions import csrf


def init_api(app: Flask) -> None:
    csrf.exempt(bp)  # bearer tokens, never cookies: cross-site requests cannot carry them
    if not bp._got_registered_once:  # the blueprint is module-level: set it up once, however many apps a process builds
        bp.add_url_rule("/openapi.json", "openapi", openapi.openapi, methods=["GET"])
        errors.register(bp)
        validation.register(bp)
    app.register_blueprint(bp)
    errors.install(app)  # after the web layer: errors under /api/ answer JSON whoever raised them
    app.json = FiniteJSONProvider(app)
