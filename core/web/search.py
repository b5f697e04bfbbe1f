"""The top bar's global search: suggestions as you type (an htmx fragment), the full results page, and Enter
without a list opening the best match."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from core.services.clients import search
from core.services.platform.access import AccessDenied
from core.web.context import user
from core.web.htmx import fragment, render

bp = Blueprint("search", __name__, url_prefix="/search")

_CARD = {"contact": ("contacts.card", "contact_id"), "company": ("companies.card", "company_id"),
         "deal": ("deals.card", "deal_id")}
_LIST = {"contact": "contacts.index", "company": "companies.index", "deal": "deals.listing_page"}


def hit_url(hit: search.Hit) -> str:
    endpoint, arg = _CARD[hit.kind]
    return url_for(endpoint, **{arg: hit.id})


def _searcher():  # type: ignore[no-untyped-def]
    """The signed-in user, who may view at least one kind of record (else there is nothing to search)."""
    me = user()
    if not search.kinds_visible(me):
        raise AccessDenied("view", "contact")
    return me


def _context(results: search.Results) -> dict[str, object]:
    return {"results": results, "hit_url": hit_url, "list_endpoints": _LIST}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The full results page; ``go=1`` (the box submitted before its list showed) opens the best match."""
    q = request.args.get("q", "")
    results = search.find(_searcher(), q, limit=search.PAGE_LIMIT)
    best = results.best
    if request.args.get("go") and best is not None:
        return redirect(hit_url(best), code=303)
    return render("search/index.html", **_context(results))


@bp.get("/suggest")
def suggest():  # type: ignore[no-untyped-def]
    """The list under the box as you type: a few rows of each kind, the best match first."""
    results = search.find(_searcher(), request.args.get("q", ""), limit=search.SUGGEST_LIMIT)
    return fragment("search/index.html", "suggestions", **_context(results))
