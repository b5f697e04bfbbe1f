"""A test plugin implementing a hook that does not exist (a typo)."""

from mayak import hookimpl


@hookimpl
def nav_itemz(user):
    return []
