"""A test plugin implementing a hook that does not exist (a typo)."""

from core.plugins import hookimpl


@hookimpl
def nav_itemz(user):
    return []
