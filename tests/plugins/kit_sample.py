"""A plugin with a page, a form and a webhook of its own that other sites post to (tests/test_plugin_kit.py)."""

import hmac

from flask import Blueprint, request

from mayak import hookimpl
from mayak.web import cross_site, current_user_or_none, require

bp = Blueprint("kit_sample", __name__, url_prefix="/kit-sample")
SECRET = b"kit-sample-secret"
received: list[bytes] = []


@bp.get("/<int:call_id>")
def page(call_id: int) -> str:
    require(current_user_or_none(), "edit", "pipeline")
    return f"call {call_id}"


@bp.post("/note")
def note() -> tuple[str, int]:
    require(current_user_or_none(), "edit", "pipeline")
    return "", 204


@bp.post("/hook")
@cross_site
def hook() -> tuple[str, int]:
    expected = hmac.new(SECRET, request.get_data(), "sha256").hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
        return "bad signature", 403
    received.append(request.get_data())
    return "", 204


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
