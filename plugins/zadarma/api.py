"""Zadarma's REST API (``https://api.zadarma.com/v1/...``; Novofon answers the same at its own address), called
through Mayak's outbound guard with the signed ``Authorization`` header.

Every answer is JSON with ``status`` ``success`` or ``error`` and a ``message``; a refusal becomes a
:class:`~mayak.ProviderError` with the core's translated text for what it comes down to and Zadarma's own words.
"""

from __future__ import annotations

import json
from typing import Any

from mayak import (
    BAD_CREDENTIALS,
    BAD_NUMBER,
    NO_MONEY,
    REFUSED,
    UNAVAILABLE,
    FetchError,
    FetchFailed,
    ProviderError,
    fetch,
)
from plugins.zadarma.config import NAME, Settings
from plugins.zadarma.wire import authorization

TIMEOUT = 10
MAX_ANSWER = 1024 * 1024
# what Zadarma's (and Novofon's) error messages say, lower-cased, by what they come down to
_MONEY = ("money", "balance", "fund", "денег", "средств", "баланс")
_CREDENTIALS = ("authoriz", "not auth", "signature", "api key", "user key", "авториз", "ключ", "подпис")
_NUMBER = ("number", "phone", "destination", "номер")


def classify(status: int, message: str) -> tuple[Any, bool]:
    """The core's text for a refusal (HTTP ``status``, Zadarma's ``message``) and whether trying later may help."""
    words = message.lower()
    if status == 429 or status >= 500:
        return UNAVAILABLE, True
    if status in (401, 403) or any(w in words for w in _CREDENTIALS):
        return BAD_CREDENTIALS, False
    if any(w in words for w in _MONEY):
        return NO_MONEY, False
    if any(w in words for w in _NUMBER):
        return BAD_NUMBER, False
    return REFUSED, False


class ZadarmaApi:
    """Signed calls to one account's API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def get(self, method_path: str, params: dict[str, object] | None = None) -> dict[str, Any]:
        """``GET method_path`` (``/v1/info/balance/``, with ``/v1`` and the trailing slash) with ``params``; the
        answer's JSON when its status is ``success``."""
        if not self.settings.api_key or not self.settings.api_secret:
            raise ProviderError(BAD_CREDENTIALS, "api_key or api_secret is not set", provider=NAME,
                                code="no_credentials")
        query, header = authorization(self.settings.api_key, self.settings.api_secret, method_path, params or {})
        url = f"{self.settings.api_url}{method_path}?{query}"
        try:
            answer = fetch(url, method="GET", headers={"Authorization": header, "Accept": "application/json"},
                           timeout=TIMEOUT, max_bytes=MAX_ANSWER)
        except FetchError as exc:
            raise ProviderError(exc.message, provider=NAME, code="network",
                                retry=isinstance(exc, FetchFailed)) from exc
        return self.read(answer.status, answer.body)

    def read(self, status: int, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            message, retry = classify(status, "") if status >= 400 else (UNAVAILABLE, True)
            shown = body[:120].decode("utf-8", "replace") or f"HTTP {status}"
            raise ProviderError(message, f"HTTP {status}: {shown}", provider=NAME, code=str(status), retry=retry)
        if status >= 400 or data.get("status") != "success":
            words = str(data.get("message") or data.get("error") or f"HTTP {status}")[:300]
            message, retry = classify(status, words)
            raise ProviderError(message, words, provider=NAME, code=str(status), retry=retry)
        return data

    def download(self, url: str, *, max_bytes: int, timeout: float = 120) -> tuple[int, bytes, str]:
        """A file Zadarma links to (a recording): ``(status, body, content type)``."""
        try:
            answer = fetch(url, method="GET", timeout=timeout, max_bytes=max_bytes)
        except FetchError as exc:
            raise ProviderError(exc.message, provider=NAME, code="network",
                                retry=isinstance(exc, FetchFailed)) from exc
        return answer.status, answer.body, answer.headers.get("content-type", "")
