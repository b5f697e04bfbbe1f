"""The public web API for plugin blueprints: rendering, the acting user, permission checks, forms.

Import it from plugin views only (it pulls in Flask-Login and Flask-WTF)::

    from mayak.web import render, require, current_user_or_none
"""

from __future__ import annotations

from typing import Any

from core.services.platform import params as _params
from core.services.platform.access import AccessDenied, can, require
from core.services.platform.params import BadParameter
from core.web.context import actor as current_actor
from core.web.context import safe_next
from core.web.context import user as current_user_or_none
from core.web.forms import EmptyForm
from core.web.htmx import fragment, is_htmx, redirect, render, render_block, stop_polling, trigger
from core.web.marks import cross_site, public

__all__ = [
    "AccessDenied",
    "BadParameter",
    "EmptyForm",
    "can",
    "cross_site",
    "current_actor",
    "current_user_or_none",
    "fragment",
    "is_htmx",
    "param_choice",
    "param_id",
    "public",
    "redirect",
    "render",
    "render_block",
    "require",
    "safe_next",
    "stop_polling",
    "trigger",
]


def param_choice(name: str, value: Any, allowed: Any) -> str:
    """``value`` of the query parameter ``name`` when it is one of ``allowed``; else :class:`BadParameter` (a 400
    page naming the parameter and its choices)."""
    return _params.choice(name, value, allowed)


def param_id(name: str, value: Any) -> int | None:
    """A record id from the query parameter ``name`` (``None`` when empty); else :class:`BadParameter`."""
    return _params.optional_id(name, value)
