"""A test plugin with routes under ``/api/``: whatever they raise must answer JSON in the API's error shape
(tests/test_api_input.py), as the API's own routes do."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import TooManyRequests

from mayak import hookimpl
from mayak.web import public

bp = Blueprint("api_extension", __name__, url_prefix="/api/ext")


@bp.get("/boom")
@public
def boom():  # type: ignore[no-untyped-def]
    raise RuntimeError("a plugin's bug")


@bp.get("/busy")
@public
def busy():  # type: ignore[no-untyped-def]
    raise TooManyRequests(retry_after=30)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
