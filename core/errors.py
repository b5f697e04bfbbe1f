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


class ProviderError(Exception):
    """A provider (PBX, SMS gateway, mailbox) refused or failed a request.

    ``message`` is a translatable text for the user (``lazy_gettext``/``_l``, or a plain string) saying what went
    wrong and what to do; ``provider_message`` is the provider's own words ("201 insufficient funds"), shown beside
    it untranslated. ``str(exc)`` reads in the current user's language. ``retry`` says trying later may succeed
    (a recording not ready yet, a rate limit); ``code`` is the provider's error code, if any.
    """

    def __init__(self, message: object, provider_message: str | None = None, *, provider: str | None = None,
                 code: str | None = None, retry: bool = False) -> None:
        super().__init__(message, provider_message)
        self.message = message
        self.provider_message = provider_message
        self.provider = provider
        self.code = code
        self.retry = retry

    def __str__(self) -> str:
        from flask_babel import gettext

        text = str(self.message)
        if not self.provider_message:
            return text
        return gettext("%(message)s (the provider said: %(detail)s)", message=text, detail=self.provider_message)
