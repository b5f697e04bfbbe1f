"""A plugin whose cross-site webhook forgets to check the signature: the URL-map kit must catch it."""

from flask import Blueprint

from mayak import hookimpl
from mayak.web import cross_site

bp = Blueprint("kit_careless", __name__, url_prefix="/kit-careless")


@bp.post("/hook")
@cross_site
def hook() -> tuple[str, int]:
    return "", 204


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
