"""A smaller body limit for one view, enforced before anything reads the body.

The application's ``MAX_CONTENT_LENGTH`` is sized for imports; a public endpoint such as the lead form takes a
few fields. Setting ``request.max_content_length`` inside the view comes too late: the application's
``before_request`` checks (:func:`core.web.security.refuse_nul`) have parsed the form by then, and a chunked body
without ``Content-Length`` is not counted against a ``Content-Length`` check at all. So :func:`apply` runs first of
the request hooks: it reads at most ``limit + 1`` bytes of the body, refuses more with a 413, and puts the bytes it
read back as the request's body with their length, so every later reader (form, JSON, multipart) parses exactly
those bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

F = TypeVar("F", bound=Callable[..., Any])
_CHUNK = 16 * 1024


def body_limit(limit: int | Callable[[dict[str, Any]], int]) -> Callable[[F], F]:
    """Mark a view: its request bodies are at most ``limit`` bytes, whatever their type or transfer encoding
    (``limit`` may be a function of the route's arguments)."""

    def mark(view: F) -> F:
        view.max_body = limit  # type: ignore[attr-defined]
        return view

    return mark


def read_bounded(stream: Any, limit: int) -> bytes | None:
    """At most ``limit`` bytes of ``stream``; ``None`` when it holds more (reading stops at ``limit + 1``)."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(_CHUNK, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
    return None


def apply() -> None:
    """The ``before_request`` hook (registered before any hook that reads the body)."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_body", None)
    if limit is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if callable(limit):  # a limit that depends on the route's arguments (each webhook endpoint has its own)
        limit = limit(request.view_args or {})
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge  # before a byte of the body is read
    raw = read_bounded(request.stream, limit)
    if raw is None:
        raise RequestEntityTooLarge
    environ = request.environ
    environ["wsgi.input"] = BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is now these bytes, of this length
    environ.pop("wsgi.input_terminated", None)
    for cached in ("stream", "content_length"):  # werkzeug caches both: read them again from the new body
        request.__dict__.pop(cached, None)
    request.max_content_length = limit
    # kept as the request's data: a later hook that parses the form (refuse_nul) then parses these bytes, and the
    # view can still read the body as sent (a form-encoded webhook checks its signature over the raw bytes)
    request.get_data(cache=True)
