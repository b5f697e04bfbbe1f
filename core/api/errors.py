"""Every error under ``/api/`` answers JSON in the documented shape (``{"error": {"code", "message",
"fields"?}}``), wherever it is raised: in a view, while reading the body, or by Flask itself before any view runs
(an unknown path, a method the route does not take, a body over the size limit).

Flask hands routing errors (404, 405) to the application's handlers, never to a blueprint's, and the web layer
registers HTML pages there. :func:`install` therefore wraps each application-level handler so that a request
for an ``/api/`` address is answered here and every other request goes on to the page it had.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from core.api.validation import ApiError
from core.db import db
from core.services.platform.access import AccessDenied
from core.services.platform.errors import InvalidInput

API_PREFIX = "/api/"


def json_error(status: int, code: str, message: str, fields: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": str(message)}}
    if fields:
        body["error"]["fields"] = {str(k): str(v) for k, v in fields.items()}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mayak"'
    return response


HTTP_MESSAGES: dict[int, Callable[[], str]] = {
    400: lambda: _("The request is not one the API understands."),
    401: lambda: _("Send a valid API token: Authorization: Bearer <token>."),
    403: lambda: _("Your role does not allow this."),
    404: lambda: _("Nothing here: check the address against the API documentation."),
    405: lambda: _("This address does not take this method; the Allow header lists those it takes."),
    413: lambda: _("The body is too large."),
    415: lambda: _("Send the body as JSON, with the header Content-Type: application/json."),
    429: lambda: _("Too many requests; wait and try again."),
}


def from_http(exc: HTTPException) -> Response:
    """A Werkzeug HTTP error as JSON, keeping the headers it carries (``Allow`` on 405, ``Retry-After``)."""
    code = exc.code or 500
    if code >= 500:
        return from_unexpected(exc)
    name = exc.name.lower().replace(" ", "_") if exc.name else "error"
    message = HTTP_MESSAGES.get(code, lambda: exc.name)()
    if code == 413:
        from core.api.validation import body_limit

        message = _("The body is too large: send at most %(size)s KB.", size=body_limit() // 1024)
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return json_error(code, name, message, headers=headers)


def from_unexpected(exc: BaseException) -> Response:
    """A failure nobody foresaw: logged with its stack, the transaction rolled back, a plain 500 answered."""
    current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    db.session.rollback()
    return json_error(500, "server_error", _("Something went wrong on our side; it has been logged."))


def from_conflict(exc: IntegrityError) -> Response:
    """Two requests wrote the same unique thing at once: nothing of this one was kept, repeating it is safe."""
    db.session.rollback()
    current_app.logger.warning("conflict on %s %s: %s", request.method, request.path, exc.orig)
    return json_error(409, "conflict", _("Someone changed the same data at the same moment; send the request "
                                         "again."))


def register(bp: Any) -> None:
    """Handlers for errors raised inside the API's views."""
    bp.register_error_handler(ApiError, lambda exc: json_error(exc.status, exc.code, exc.message))
    bp.register_error_handler(IntegrityError, from_conflict)
    bp.register_error_handler(HTTPException, from_http)
    bp.register_error_handler(Exception, from_unexpected)


def _for_api(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def answer(exc: Any) -> Any:
        if not request.path.startswith(API_PREFIX):
            return handler(exc)
        if isinstance(exc, HTTPException):
            return from_http(exc)
        if isinstance(exc, ApiError):
            return json_error(exc.status, exc.code, exc.message)
        if isinstance(exc, InvalidInput):  # an application-wide check refused a parameter (a NUL, say)
            return json_error(422, "invalid", _("Please correct the marked fields."), exc.errors)
        if isinstance(exc, AccessDenied):
            return json_error(403, "forbidden", _("Your role does not allow this."))
        return from_unexpected(exc)

    answer.__name__ = getattr(handler, "__name__", "answer")
    answer.__doc__ = handler.__doc__
    return answer


def install(app: Flask) -> None:
    """Make the application's own error handlers answer JSON under ``/api/`` (see the module's docstring).

    Called once the web layer has registered its pages; handlers registered later for the whole application
    would answer ``/api/`` in their own way, so the API registers last."""
    spec = app.error_handler_spec.setdefault(None, {})
    for handlers in spec.values():
        for exc_class, handler in list(handlers.items()):
            handlers[exc_class] = _for_api(handler)
    if Exception not in spec.get(None, {}):  # the last resort, which Flask also consults for HTTP errors
        app.register_error_handler(Exception, _for_api(_unchanged))


def _unchanged(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        return exc
    raise exc
