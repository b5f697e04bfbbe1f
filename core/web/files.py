"""Upload to a client's timeline, download, and inline preview of images and PDFs."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from core.services.clients import companies, contacts, files
from core.services.platform import storage
from core.services.platform.errors import InvalidInput
from core.web import downloads
from core.web.context import actor
from core.web.forms import EmptyForm

bp = Blueprint("files", __name__)


@bp.post("/<any(contacts, companies):collection>/<int:record_id>/files")
def upload(collection: str, record_id: int):  # type: ignore[no-untyped-def]
    service = contacts if collection == "contacts" else companies
    try:
        record = service.get(actor(), record_id, "edit")
    except LookupError:
        abort(404)
    card = url_for("contacts.card", contact_id=record_id) if collection == "contacts" else url_for(
        "companies.card", company_id=record_id)
    upload = request.files.get("file")
    if not EmptyForm().validate_on_submit():
        abort(400)
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "danger")
        return redirect(card)
    key = {"contact": record} if collection == "contacts" else {"company": record}
    try:
        files.store(actor(), stream=upload.stream, filename=upload.filename, **key)
    except InvalidInput as exc:
        flash(str(exc.errors["file"]), "danger")
    else:
        flash(_("The file is attached."), "success")
    return redirect(card)


_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._()+-]+")


def content_disposition(kind: str, name: str) -> str:
    """``attachment``/``inline`` with the file's name written as RFC 6266 asks: an ASCII ``filename`` for old
    clients and the exact UTF-8 name in ``filename*`` (RFC 5987). Whatever the stored name holds (CR/LF, quotes,
    any script), the header is plain ASCII without control characters."""
    name = files.safe_name(name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _FALLBACK_UNSAFE.sub("_", ascii_name).strip("_.")
    stem, dot, ext = fallback.rpartition(".")
    if not any(ch.isalnum() for ch in (stem if dot else fallback)):
        fallback = "file" + (f".{ext}" if dot and ext else "")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"


def _send(attachment_id: int, inline: bool):  # type: ignore[no-untyped-def]
    try:
        attachment = files.get_for(actor(), attachment_id)
    except LookupError:
        abort(404)
    preview = inline and attachment.content_type in files.PREVIEWABLE
    kind = "inline" if preview else "attachment"
    mimetype = attachment.content_type if preview else "application/octet-stream"
    unchanged = downloads.not_modified(attachment.sha256)
    if unchanged is not None:
        return unchanged
    if storage.presigned_downloads():  # after the access check: the URL works for a minute, for this file only
        store, key = storage.current(), files.key_of(attachment.sha256)
        if not store.exists(key):
            return downloads.gone()
        url = store.download_url(key, disposition=content_disposition(kind, attachment.filename),
                                 content_type=mimetype)
        if url:
            return redirect(url)
    try:
        body = files.open_file(attachment)
    except files.FileGone:
        return downloads.gone()
    response = downloads.stream(body, size=attachment.size, mimetype=mimetype, etag=attachment.sha256)
    response.headers["Content-Disposition"] = content_disposition(kind, attachment.filename)
    # a stored file never runs as a page of ours: downloads are sandboxed, previews may only show themselves
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; object-src 'self'" if preview else "default-src 'none'; sandbox")
    return response


@bp.get("/files/<int:attachment_id>")
def download(attachment_id: int):  # type: ignore[no-untyped-def]
    return _send(attachment_id, inline=False)


@bp.get("/files/<int:attachment_id>/preview")
def preview(attachment_id: int):  # type: ignore[no-untyped-def]
    return _send(attachment_id, inline=True)
