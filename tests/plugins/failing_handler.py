"""A test plugin whose event handler is broken."""

from core.plugins import hookimpl


@hookimpl
def user_created(event):
    raise RuntimeError("handler down")
