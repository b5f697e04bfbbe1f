"""Call recordings off the PBX: MixMonitor writes them under ``/var/spool/asterisk/monitor``; Mayak reads them over
HTTP from a folder the PBX serves (``recordings_url``, e.g. nginx on the PBX) or from that folder itself when it
shares the disk (``recordings_dir``). The file's name comes from the PBX's events, so it is checked again here: a
path that leaves the folder (``../``, an absolute path, a link pointing out of it) is refused."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mayak import BAD_CREDENTIALS, REFUSED, UNAVAILABLE, ProviderError, RecordingRef, fetch
from mayak import lazy_gettext as _l
from plugins.asterisk.events import recording_name

MAX_BYTES = 200 * 1024 * 1024  # three hours of WAV at 8 kHz is 170 MB
TIMEOUT = 60.0
NOT_READY = _l("The PBX has not finished the recording yet.")
NOT_SET_UP = _l("Neither a recordings address nor a recordings folder is set in the asterisk plugin's settings.")
NOT_AUDIO = _l("The recordings address answered with a web page, not a sound file; check the address.")


def read(settings: Any, recording: RecordingRef, provider: str) -> bytes:
    """The audio of ``recording``; :class:`ProviderError` with ``retry=True`` while it is not there yet."""
    name = recording_name(recording.ref)
    if name is None:
        raise ProviderError(REFUSED, provider_message="not a recording's file name", provider=provider)
    if settings.recordings_dir:
        return _from_disk(Path(settings.recordings_dir), name, provider)
    if settings.recordings_url:
        return _over_http(settings, name, provider)
    raise ProviderError(NOT_SET_UP, provider=provider)


def _from_disk(folder: Path, name: str, provider: str) -> bytes:
    base = folder.resolve()
    target = (base / name).resolve()  # follows links: one pointing out of the folder ends up outside and is refused
    if not target.is_relative_to(base) or target == base:
        raise ProviderError(REFUSED, provider_message="the recording's path leaves the recordings folder",
                            provider=provider)
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        raise ProviderError(NOT_READY, provider_message=f"{name}: no such file yet", provider=provider,
                            retry=True) from None
    if not target.is_file():
        raise ProviderError(REFUSED, provider_message=f"{name} is not a file", provider=provider)
    if size > MAX_BYTES:
        raise ProviderError(REFUSED, provider_message=f"{name} is larger than {MAX_BYTES // 2**20} MB",
                            provider=provider)
    with target.open("rb") as handle:
        return handle.read(MAX_BYTES + 1)[:MAX_BYTES]


def _over_http(settings: Any, name: str, provider: str) -> bytes:
    url = settings.recordings_url.rstrip("/") + "/" + quote(name, safe="/")
    headers = {"User-Agent": "Mayak-Asterisk/1"}
    if settings.recordings_user:
        pair = f"{settings.recordings_user}:{settings.recordings_password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    answer = fetch(url, headers=headers, timeout=TIMEOUT, max_bytes=MAX_BYTES)
    said = f"HTTP {answer.status}"
    if answer.status == 200:
        if answer.headers.get("content-type", "").lower().startswith("text/html"):
            raise ProviderError(NOT_AUDIO, provider_message=said, provider=provider)
        return answer.body
    if answer.status in (404, 410):
        raise ProviderError(NOT_READY, provider_message=said, provider=provider, retry=True)
    if answer.status in (401, 403):
        raise ProviderError(BAD_CREDENTIALS, provider_message=said, provider=provider)
    if answer.status == 429 or answer.status >= 500:
        raise ProviderError(UNAVAILABLE, provider_message=said, provider=provider, retry=True)
    raise ProviderError(REFUSED, provider_message=said, provider=provider)
