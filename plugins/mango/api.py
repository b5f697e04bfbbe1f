"""Calls to Mango's VPBX API, through Mayak's outbound guard (``mayak.fetch``), with Mango's refusals turned into
:class:`ProviderError` in the user's language.

Mango answers a command with ``{"result": 1000}`` when it was accepted and another code when not — sometimes with
HTTP 200, sometimes with an HTTP error status; both are read. ``config/users/request`` answers ``{"users": [...]}``
without a result code.
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
    ProviderError,
    Response,
    fetch,
)
from mayak import lazy_gettext as _l
from plugins.mango import wire

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 1024 * 1024  # a users list of a big PBX; commands answer a few bytes
NOT_CONFIGURED = _l("Mango Office is not set up: enter the API key and salt of its API connector in the "
                    "plugin's settings.")
RECORDING_NOT_READY = _l("Mango Office has not prepared the recording yet; Mayak will ask again later.")


class MangoApi:
    """One PBX's API: its base ``url`` (``https://app.mango-office.ru/vpbx/``), key and salt."""

    def __init__(self, url: str, api_key: str, api_salt: str, provider: str = "mango") -> None:
        self.url = (url or wire.API_URL).rstrip("/") + "/"
        self.api_key, self.api_salt, self.provider = api_key, api_salt, provider

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.api_salt)

    def post(self, path: str, payload: dict[str, Any], *, timeout: float = TIMEOUT_SECONDS,
             max_bytes: int = MAX_ANSWER_BYTES) -> Response:
        """POST one signed request; the guard follows redirects (a recording's temporary link) and raises
        ``FetchRefused``/``FetchFailed`` for an address it refuses or a network failure."""
        if not self.configured:
            raise ProviderError(NOT_CONFIGURED, provider=self.provider)
        return fetch(self.url + path, method="POST", body=wire.encode(self.api_key, self.api_salt, payload),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Mayak-Mango/1"},
                     timeout=timeout, max_bytes=max_bytes)

    def command(self, path: str, payload: dict[str, Any], *, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
        """A command or query whose answer is JSON; :class:`ProviderError` unless Mango accepted it."""
        response = self.post(path, payload, timeout=timeout)
        answer = answer_json(response)
        code = wire.number(answer, "result")
        if response.status != 200 or (code is not None and code != 1000):
            raise refusal(response.status, code, self.provider)
        return answer


def answer_json(response: Response) -> dict[str, Any]:
    """Mango's JSON answer (an empty object for an answer that is not a JSON object)."""
    if "json" not in response.headers.get("content-type", "") and not response.body.lstrip().startswith(b"{"):
        return {}
    try:
        data = json.loads(response.body)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def refusal(status: int, code: int | None, provider: str, *, not_ready: bool = False) -> ProviderError:
    """What Mango's refusal means for the user. ``not_ready``: a recording Mango cannot give yet (3320, a 404, an
    answer without audio), which is worth asking for again later."""
    words = f"HTTP {status}: {wire.result_text(code)}" if status != 200 else wire.result_text(code)
    if not_ready and (code in (3320, 3340) or (code is None and status in (200, 404))):
        return ProviderError(RECORDING_NOT_READY, words, provider=provider, code=str(code or status), retry=True)
    if code in (3102, 3105) or status in (401, 403):
        return ProviderError(BAD_CREDENTIALS, words, provider=provider, code=str(code or status))
    if code == 2240:
        return ProviderError(NO_MONEY, words, provider=provider, code=str(code))
    if code in (3200, 3330, 1131, 1132, 1133):
        return ProviderError(BAD_NUMBER, words, provider=provider, code=str(code))
    if (code is not None and (code >= 5000 or code in (4200, 4402, 4403, 2220))) or status == 429 or status >= 500:
        return ProviderError(UNAVAILABLE, words, provider=provider, code=str(code or status), retry=True)
    return ProviderError(REFUSED, words, provider=provider, code=str(code or status))
