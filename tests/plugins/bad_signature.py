"""A test plugin implementing a hook with an argument the hook does not have."""

from mayak import hookimpl


@hookimpl
def nav_items(user, colour):
    return []
