"""Twilio's REST API (``/2010-04-01``), through Mayak's guarded ``fetch``: create a call, download a recording, read
the account. Basic auth with the Account SID and auth token; form-encoded requests, JSON answers. A refusal becomes
a :class:`ProviderError` with the text core translates and Twilio's own code and message beside it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from mayak import (
    BAD_CREDENTIALS,
    BAD_NUMBER,
    NO_MONEY,
    REFUSED,
    UNAVAILABLE,
    FetchFailed,
    ProviderError,
    Response,
    fetch,
)
from mayak import lazy_gettext as _l

VERSION = "2010-04-01"
TIMEOUT = 15
RECORDING_TIMEOUT = 120
MAX_ANSWER = 256 * 1024
MAX_RECORDING = 200 * 1024 * 1024  # three hours of MP3 at 128 kbit/s, as core keeps at most
KEY = "twilio"

RECORDING_NOT_READY = _l("Twilio has not finished the recording yet; Mayak will try again.")

# Twilio's error codes (https://www.twilio.com/docs/api/errors) by what they mean for the user
_BAD_NUMBER = {13223, 13224, 21211, 21214, 21216, 21217, 21219, 21401, 21407, 21601}
_BAD_CREDENTIALS = {20003, 20008, 20404}
_NO_MONEY = {10001, 20005}  # "account not active": suspended, in practice for an unpaid balance
_BUSY = {20429}


class TwilioApi:
    """One account's REST API at ``base_url`` (``https://api.twilio.com``; a loopback fake in tests)."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str) -> None:
        if not account_sid or not auth_token:
            raise ProviderError(BAD_CREDENTIALS, "no Account SID or auth token is set", provider=KEY)
        if not re.fullmatch(r"[A-Za-z0-9]{2,64}", account_sid):
            raise ProviderError(BAD_CREDENTIALS, "the Account SID is not a Twilio id", provider=KEY)
        self.base = base_url.rstrip("/")
        self.account_sid = account_sid
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self.auth = f"Basic {credentials}"

    def url(self, resource: str) -> str:
        account = f"{self.base}/{VERSION}/Accounts/{quote(self.account_sid, safe='')}"
        return account + resource

    # -- resources ----------------------------------------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        """The account resource (``friendly_name``, ``status``: active, suspended or closed; ``type``)."""
        return self._json(self._send("GET", self.url(".json")))

    def create_call(self, params: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
        """``POST Calls.json``: the created call (``sid``, ``status``...)."""
        body = urlencode(params, doseq=True).encode("ascii")
        return self._json(self._send("POST", self.url("/Calls.json"), body))

    def recording(self, recording_sid: str) -> bytes:
        """The recording as MP3. Twilio answers 404 until it has processed it: raised with ``retry=True``."""
        if not re.fullmatch(r"[A-Za-z0-9]{2,64}", recording_sid):
            raise ProviderError(REFUSED, f"{recording_sid[:80]!r} is not a Twilio recording id", provider=KEY)
        response = self._send("GET", self.url(f"/Recordings/{recording_sid}.mp3"), timeout=RECORDING_TIMEOUT,
                              max_bytes=MAX_RECORDING, refuse=False)
        if response.status == 404:
            raise ProviderError(RECORDING_NOT_READY, _said(response), provider=KEY, code="404", retry=True)
        _raise_for(response)
        return response.body

    # -- the exchange -------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, body: bytes | None = None, *, timeout: float = TIMEOUT,
              max_bytes: int = MAX_ANSWER, refuse: bool = True) -> Response:
        headers = {"Authorization": self.auth, "Accept": "application/json", "User-Agent": "Mayak-Twilio/1"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = fetch(url, method=method, body=body, headers=headers, timeout=timeout, max_bytes=max_bytes)
        except FetchFailed as exc:  # no answer at all: the user may simply try again
            raise ProviderError(UNAVAILABLE, str(exc), provider=KEY, retry=True) from exc
        if refuse:
            _raise_for(response)
        return response

    @staticmethod
    def _json(response: Response) -> dict[str, Any]:
        try:
            found = json.loads(response.body)
        except (ValueError, RecursionError) as exc:
            raise ProviderError(UNAVAILABLE, f"HTTP {response.status}: the answer is not JSON", provider=KEY,
                                retry=True) from exc
        if not isinstance(found, dict):
            raise ProviderError(UNAVAILABLE, f"HTTP {response.status}: unexpected answer", provider=KEY, retry=True)
        return found


def _raise_for(response: Response) -> None:
    """A Twilio refusal as a :class:`ProviderError`: the message core translates, Twilio's code and words beside."""
    if 200 <= response.status < 300:
        return
    code = _error_code(response)
    said = _said(response)
    if code in _BAD_NUMBER:
        message, retry = BAD_NUMBER, False
    elif code in _NO_MONEY:
        message, retry = NO_MONEY, False
    elif code in _BAD_CREDENTIALS or response.status in (401, 403):
        message, retry = BAD_CREDENTIALS, False
    elif code in _BUSY or response.status == 429 or response.status >= 500:
        message, retry = UNAVAILABLE, True
    else:
        message, retry = REFUSED, False
    raise ProviderError(message, said, provider=KEY, code=str(code or response.status), retry=retry)


def _error_body(response: Response) -> dict[str, Any]:
    try:
        found = json.loads(response.body)
    except (ValueError, RecursionError):
        return {}
    return found if isinstance(found, dict) else {}


def _error_code(response: Response) -> int | None:
    code = _error_body(response).get("code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _said(response: Response) -> str:
    """Twilio's own words: ``21211: The 'To' number 123 is not a valid phone number.``"""
    body = _error_body(response)
    message = str(body.get("message") or "").strip()[:300]
    code = _error_code(response)
    if message:
        return f"{code}: {message}" if code else message
    return f"HTTP {response.status} {response.reason}".strip()
