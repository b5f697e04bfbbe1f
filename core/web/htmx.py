"""The single place that reads and writes ``HX-*`` headers (flask-htmx) and renders template fragments
(jinja2-fragments), so a full page and its partial come from one template."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, make_response, render_template
from flask_htmx import HTMX
from jinja2_fragments.flask import render_block

htmx = HTMX()

STOP_POLLING = 286  # htmx stops polling on this status


def init_htmx(app: Flask) -> None:
    htmx.init_app(app)


def is_htmx() -> bool:
    return bool(htmx)


def is_boosted() -> bool:
    return bool(htmx) and bool(htmx.boosted)


def render(template: str, block: str | None = None, *, status: int = 200, **context: Any) -> Response:
    """Render the whole page, or only ``block`` when htmx asked (and did not boost the whole page)."""
    if block is not None and is_htmx() and not is_boosted():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def fragment(template: str, block: str, *, status: int = 200, **context: Any) -> Response:
    """Render one block of a template (a partial that only htmx requests)."""
    response = make_response(render_block(template, block, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect(location: str) -> Response:
    """A redirect that works for both htmx (``HX-Redirect``) and plain requests."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    response = make_response("", 303)
    response.headers["Location"] = location
    return response


def trigger(response: Response, events: dict[str, Any]) -> Response:
    """Ask the browser to fire events (e.g. toasts) after the swap."""
    # headers are Latin-1 on the wire: non-ASCII text (a Russian toast) travels as JSON \u escapes
    response.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=True)
    return response


def stop_polling(response: Response) -> Response:
    response.status_code = STOP_POLLING
    return response
