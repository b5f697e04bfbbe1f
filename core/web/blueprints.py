"""The core's blueprints, registered by :func:`core.web.init_web` (the app factory); plugin blueprints follow.

Kept apart from ``core/web/__init__.py`` so that the package imports its views and no view imports the package.
"""

from __future__ import annotations

from flask import Blueprint

from core.web import (
    admin,
    auth,
    calls,
    companies,
    contacts,
    deals,
    event_catalogue,
    exports,
    files,
    health,
    home,
    imports,
    inbox,
    inline,
    intake,
    jobs,
    lead_capture,
    metrics,
    pipelines,
    search,
    tasks,
    views,
    webhooks,
)


def core_blueprints() -> list[Blueprint]:
    return [auth.bp, home.bp, admin.bp, jobs.bp, health.bp, contacts.bp, companies.bp, exports.bp, files.bp,
            views.bp, inline.bp, deals.bp, tasks.bp, inbox.bp, intake.bp, lead_capture.bp, pipelines.bp,
            imports.bp, search.bp, webhooks.bp, webhooks.admin_bp, event_catalogue.bp, calls.bp, metrics.bp]
