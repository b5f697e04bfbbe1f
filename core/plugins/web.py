"""The public web API for plugin blueprints: rendering, the acting user, permission checks, forms.

Import it from plugin views only (it pulls in Flask-Login and Flask-WTF)::

    from core.plugins.web import render, require, current_user_or_none
"""

from core.services.users.access import AccessDenied, can, require
from core.web.marks import cross_site, public
from core.web.context import actor as current_actor
from core.web.context import user as current_user_or_none
from core.web.forms import EmptyForm
from core.web.htmx import fragment, redirect, render, stop_polling, trigger

__all__ = [
    "AccessDenied",
    "EmptyForm",
    "can",
    "cross_site",
    "current_actor",
    "current_user_or_none",
    "fragment",
    "public",
    "redirect",
    "render",
    "require",
    "stop_polling",
    "trigger",
]
