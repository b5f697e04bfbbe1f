"""Errors that stop start-up with one clear line, and errors the facades raise."""

from __future__ import annotations


class StartupError(Exception):
    """A setting, plugin or service problem that must stop the app before it serves anything.

    The message is one line that names the culprit and the fix; the CLI and ``wsgi.py`` print it alone.
    """

    def __init__(self, message: str) -> None:
        super().__init__("; ".join(part.strip() for part in str(message).splitlines() if part.strip()))


class ProviderNotFound(LookupError):
    """No enabled plugin answered for a provider kind or name."""
