"""A test plugin whose event handler is broken."""

from mayak import EventHandler, hookimpl


def broken(event):
    raise RuntimeError("handler down")


@hookimpl
def register_event_handlers():
    return [EventHandler("failing.broken", ("user_created",), broken)]
