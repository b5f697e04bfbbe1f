"""A test plugin whose per-request hooks raise: pages must still render."""

from mayak import hookimpl


@hookimpl
def nav_items(user):
    raise RuntimeError("raising plugin: nav_items is broken")


@hookimpl
def plugin_health():
    raise RuntimeError("raising plugin: health is broken")
