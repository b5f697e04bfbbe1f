"""Export downloads: the list view the user is looking at (or all they may see) as XLSX, CSV or vCard; streamed
when small, written by a job with a progress bar when big."""

from __future__ import annotations

import tempfile

from flask import Blueprint, Response, abort, render_template, request, send_file, stream_with_context, url_for
from flask import redirect as redirect_to
from flask_babel import gettext as _
from werkzeug.http import dump_options_header

from core import jobs
from core.services.clients import listing
from core.services.platform import storage
from core.services.transfer import export
from core.web import clients, downloads
from core.web.context import actor, user
from core.web.htmx import redirect

bp = Blueprint("exports", __name__, url_prefix="/export")


@bp.get("/<entity>.<format>")
def download(entity: str, format: str):  # type: ignore[no-untyped-def]
    if entity not in export.ENTITIES or format not in export.FORMATS:
        abort(404)
    if format == "vcard" and entity not in ("contacts", "companies"):
        abort(404)
    spec = {"contacts": listing.CONTACTS, "companies": listing.COMPANIES, "deals": listing.DEALS}.get(entity)
    query = clients.list_query(spec)
    if spec is not None:  # bad filters are a 400 before the file starts streaming, not an error halfway
        listing.validate(spec, query, user())
    encoding = "cp1251" if request.args.get("encoding") == "cp1251" else "utf-8-sig"
    if export.needs_job(entity, actor(), query):
        record = export.start_job(entity, format, actor(), query, encoding)
        return redirect(url_for("exports.job", record_id=record.id))
    mimetype, extension = export.MEDIA[format]
    if format in ("csv", "vcard"):
        header_rows = export.table(entity, actor(), query) if format == "csv" else None
        body = (export.to_csv(*header_rows, encoding) if header_rows else export.to_vcard(entity, actor(), query))
        response = Response(stream_with_context(body), mimetype=mimetype)
        response.headers["Content-Disposition"] = f"attachment; filename={entity}.{extension}"
        return response
    header, rows = export.table(entity, actor(), query)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to send_file
    export.to_xlsx(header, rows, spool, str(export.TITLES[entity]))
    spool.seek(0)
    return send_file(spool, as_attachment=True, download_name=f"{entity}.xlsx", mimetype=mimetype)


def _own_job(record_id: int):  # type: ignore[no-untyped-def]
    record = jobs.get(record_id)
    me = user()
    if record is None or record.name != "core.export" or me is None or record.created_by_id != me.id:
        abort(404)
    return record


@bp.get("/jobs/<int:record_id>")
def job(record_id: int):  # type: ignore[no-untyped-def]
    record = _own_job(record_id)
    return render_template("exports/job.html", job=record, title=_("Export"))


@bp.get("/jobs/<int:record_id>/file")
def job_file(record_id: int):  # type: ignore[no-untyped-def]
    record = _own_job(record_id)
    if record.status != "finished" or not record.result:
        abort(404)
    name = str(record.result["file"])
    try:
        key = export.key_of(name)
    except ValueError:
        abort(404)
    extension = name.rsplit(".", 1)[-1]
    mimetype = next(m for m, ext in export.MEDIA.values() if ext == extension)
    store = storage.current()
    size = store.size(key)
    if size is None:
        return downloads.gone()
    disposition = dump_options_header("attachment", {"filename": name})
    url = store.download_url(key, disposition=disposition, content_type=mimetype) \
        if storage.presigned_downloads() else None
    if url:  # the job is the user's own, checked above; the URL works for a minute
        return redirect_to(url)
    try:
        body = store.open(key)
    except storage.ObjectMissing:
        return downloads.gone()
    response = downloads.stream(body, size=size, mimetype=mimetype)
    response.headers["Content-Disposition"] = disposition
    return response
