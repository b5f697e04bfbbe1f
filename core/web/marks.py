"""Marks on views that the request hooks read: reachable without signing in, or posted to by other sites."""

from __future__ import annotations

from core.extensions import csrf


def public(view):  # type: ignore[no-untyped-def]
    """Mark a view as reachable without signing in (login page, health probe, webhooks with signatures)."""
    view._mayak_public = True
    return view


def cross_site(view):  # type: ignore[no-untyped-def]
    """Mark a view that other sites or providers post to (lead forms, provider webhooks): public, without the CSRF
    token and the same-origin check. Such a view must bring its own defence — a signature, a key, an allow-list
    of origins — and is listed in tests/security/routes.py (``CROSS_SITE``)."""
    view._mayak_cross_site = True
    csrf.exempt(view)
    return public(view)
