"""Job progress for progress bars: an htmx partial polled until the job ends (then HTTP 286 stops polling)."""

from __future__ import annotations

from flask import Blueprint, abort

from core import jobs
from core.web.context import user
from core.web.htmx import fragment, stop_polling

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<int:record_id>/progress")
def progress(record_id: int):  # type: ignore[no-untyped-def]
    me = user()
    record = jobs.get(record_id)
    if record is None or me is None or (record.created_by_id != me.id and not me.is_admin):
        abort(404)
    response = fragment("jobs/progress.html", "progress", job=record)
    if record.status in ("finished", "failed"):
        stop_polling(response)
    return response
