"""The plugin's settings (``[plugins.zadarma]``) and the time zone Zadarma writes call times in.

Zadarma's notifications carry ``call_start`` as a local wall-clock time (``2024-01-01 12:00:00``) without a zone:
the zone chosen in the Zadarma cabinet. ``timezone`` names it; empty means the installation's own time zone
(``MAYAK_TIMEZONE``). *Check connection* compares it with what the account says (``/v1/info/timezone/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mayak import secret_field

NAME = "zadarma"
DEFAULT_API_URL = "https://api.zadarma.com"
# "UTC+3", "GMT-03:30", "+05:45": what /v1/info/timezone/ answers and what people type
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?", re.IGNORECASE)


def parse_zone(name: str) -> tzinfo:
    """A zone from an IANA name (``Europe/Moscow``), a UTC offset (``UTC+3``, ``+03:00``) or ``UTC``; ``ValueError``
    for anything else."""
    text = (name or "").strip()
    if text.upper() in ("UTC", "GMT", "UTC+0", "UTC-0", "GMT+0", "Z"):
        return UTC
    match = _OFFSET.fullmatch(text)
    if match:
        hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
        if hours > 14 or minutes >= 60:
            raise ValueError(f"{name!r} is not a UTC offset")
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if match["sign"] == "-" else offset)
    if not text or len(text) > 64 or ".." in text or text.startswith("/"):
        raise ValueError(f"{name!r} is not a time zone")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone: use a name such as Europe/Moscow or an offset such as "
                         "UTC+3") from exc


def check_api_url(url: str) -> str:
    """``url`` without a trailing slash, when it is an http(s) address of a host with nothing after the path; the
    outbound guard checks where it leads at every request."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"api_url {url!r} must be an http(s) address such as {DEFAULT_API_URL}")
    if parts.query or parts.fragment:
        raise ValueError(f"api_url {url!r} must not have a query or a fragment")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class Settings:
    """``[plugins.zadarma]``: ``api_key`` and ``api_secret = { env = "..." }`` from the cabinet's *Settings → API
    and integrations* (the secret also signs the call notifications), ``api_url`` (Novofon:
    ``https://api.novofon.com``), ``timezone`` of the cabinet (empty: the installation's), ``route_incoming`` (ring a
    known caller's manager first), ``return_timeout`` (seconds the manager's phone rings before the call goes back
    to the PBX's own scenario; 0: it never goes back)."""

    api_key: str = ""
    api_secret: str = secret_field(default="")
    api_url: str = DEFAULT_API_URL
    timezone: str = ""
    route_incoming: bool = True
    return_timeout: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or len(self.api_key) > 200:
            raise ValueError("api_key must be the key text from the Zadarma cabinet")
        if not isinstance(self.api_url, str):
            raise ValueError("api_url must be text")
        object.__setattr__(self, "api_url", check_api_url(self.api_url))
        if self.timezone:
            parse_zone(self.timezone)
        if not isinstance(self.route_incoming, bool):
            raise ValueError("route_incoming must be true or false")
        if isinstance(self.return_timeout, bool) or not isinstance(self.return_timeout, int) \
                or not (self.return_timeout == 0 or 3 <= self.return_timeout <= 600):
            raise ValueError("return_timeout must be 0 (never back to the PBX's scenario) or 3 to 600 seconds")


def zone_of(settings: Settings) -> tzinfo:
    """The zone Zadarma's call times are read in: the setting, else the installation's default zone."""
    if settings.timezone:
        return parse_zone(settings.timezone)
    try:
        from flask import current_app

        return parse_zone(str(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC"))
    except (RuntimeError, ValueError):  # outside an app, or a zone name this reader does not know
        return UTC
