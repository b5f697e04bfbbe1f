"""Administration → Plugins → Events: every event the installation knows (core's and the enabled plugins'),
its schema version, subject and typed fields, and the handlers subscribed to it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from core.plugins import facades
from core.plugins.events import type_label
from core.services.platform.access import require
from core.web.context import user
from core.web.htmx import render

bp = Blueprint("events_admin", __name__, url_prefix="/admin/events")


def catalogue_rows() -> list[dict[str, Any]]:
    """One row per event, core's first in catalogue order, then the plugins' by name."""
    rows = []
    for name, cls in facades.event_catalogue().items():
        rows.append({
            "name": name, "version": cls.version, "subject": cls.subject_type, "description": cls.description,
            "core": cls.__module__ == "core.plugins.events", "module": cls.__module__,
            "fields": [(field, type_label(kind)) for field, kind in cls.fields()],
            "handlers": facades.subscribers(name),
        })
    return sorted(rows, key=lambda row: (not row["core"], "" if row["core"] else row["name"]))


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    require(user(), "view", "plugin")
    return render("admin/events.html", rows=catalogue_rows())
