"""Export downloads: the list view the user is looking at, as XLSX or CSV."""

from __future__ import annotations

import tempfile

from flask import Blueprint, Response, abort, request, send_file, stream_with_context
from flask_babel import gettext as _

from core.services import export
from core.web import clients
from core.web.context import actor

bp = Blueprint("exports", __name__, url_prefix="/export")


@bp.get("/<entity>.<format>")
def download(entity: str, format: str):  # type: ignore[no-untyped-def]
    if entity not in ("contacts", "companies") or format not in ("xlsx", "csv"):
        abort(404)
    query = clients.list_query()
    header, rows = export.table(entity, actor(), query)
    title = _("Contacts") if entity == "contacts" else _("Companies")
    if format == "csv":
        encoding = "cp1251" if request.args.get("encoding") == "cp1251" else "utf-8-sig"
        response = Response(stream_with_context(export.to_csv(header, rows, encoding)),
                            mimetype="text/csv")
        response.headers["Content-Disposition"] = f"attachment; filename={entity}.csv"
        return response
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to send_file
    export.to_xlsx(header, rows, spool, str(title))
    spool.seek(0)
    return send_file(spool, as_attachment=True, download_name=f"{entity}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
