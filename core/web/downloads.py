"""Answering with a stored file: streamed from the storage backend through the app in chunks (never read whole),
with ETag, conditional GET and ranges as ``send_file`` gives them, and a page of its own for a file the storage
no longer holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import IO

from flask import Response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from core.services.platform.storage import CHUNK


def _chunks(body: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := body.read(CHUNK):
            yield chunk
    finally:
        body.close()


def stream(body: IO[bytes], *, size: int | None, mimetype: str, etag: str | None = None) -> Response:
    """A response that streams ``body`` and closes it when done (or when the answer is a 304 or a HEAD, which read
    none of it). Not cached without asking (``no-cache``), like ``send_file(max_age=0)``."""
    response = Response(_chunks(body), mimetype=mimetype, direct_passthrough=True)
    response.call_on_close(body.close)
    if size is not None:
        response.content_length = size
    response.cache_control.no_cache = True
    response.cache_control.max_age = 0
    response.expires = int(time.time())  # type: ignore[assignment]
    if etag:
        response.set_etag(etag)
    try:
        return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        body.close()
        raise


def not_modified(etag: str) -> Response | None:
    """A 304 when the browser already holds this version (``If-None-Match``), answered before the storage is
    asked for anything."""
    if not request.if_none_match.contains(etag):
        return None
    response = Response(status=304)
    response.cache_control.no_cache = True
    response.cache_control.max_age = 0
    response.set_etag(etag)
    return response


def gone() -> tuple[str, int]:
    """The page for a file whose record is there but whose content the storage lost: a 404 that says so."""
    return render_template("errors/error.html", code=404, error=None, heading=_("File not found"), detail=_(
        "This file is no longer in the storage. Ask your administrator to restore it from a backup, or upload it "
        "again.")), 404
