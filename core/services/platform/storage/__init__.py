"""File storage behind one interface: the instance folder (the embedded default) or an S3-compatible bucket,
chosen by ``MAYAK_STORAGE``. Callers name files by key (:func:`validate_key`) and never build paths themselves.

``current()`` is the app's backend; :func:`backend` builds either kind from the settings (``mayak files move``
reads one and writes the other).
"""

from __future__ import annotations

from flask import current_app

from core.config import Settings
from core.errors import StartupError
from core.services.platform.storage.base import AREAS, CHUNK, ObjectMissing, Storage, copy_stream, validate_key
from core.services.platform.storage.local import LocalStorage

__all__ = ["AREAS", "CHUNK", "LocalStorage", "ObjectMissing", "Storage", "backend", "check", "copy_stream",
           "current", "redirect_origins", "validate_key"]

EXTENSION_KEY = "mayak.storage"


def backend(settings: Settings, kind: str | None = None) -> Storage:
    """The backend ``kind`` (default: ``MAYAK_STORAGE``) as the settings describe it."""
    kind = kind or settings.storage.kind
    if kind == "local":
        return LocalStorage(settings.instance_path)
    if kind == "s3":
        if settings.storage.s3 is None:
            raise StartupError("MAYAK_S3_BUCKET is not set: name the bucket (and its MAYAK_S3_* settings) to use S3")
        from core.services.platform.storage.s3 import S3Storage

        return S3Storage(settings.storage.s3)
    raise StartupError(f"MAYAK_STORAGE {kind!r} is not known: use local or s3")


def check(settings: Settings, kind: str | None = None) -> None:
    """Raise :class:`StartupError` with one line when the backend ``kind`` cannot be used (S3: the bucket is not
    reachable with the key given); the local folder needs no check (``MAYAK_INSTANCE_PATH`` was made already)."""
    if (kind or settings.storage.kind) == "s3":
        if settings.storage.s3 is None:
            raise StartupError("MAYAK_S3_BUCKET is not set: name the bucket (and its MAYAK_S3_* settings) to use S3")
        from core.services.platform.storage import s3

        s3.check(settings.storage.s3)


def current() -> Storage:
    """The backend of the running app, made on first use and kept for the process."""
    app = current_app
    found: Storage | None = app.extensions.get(EXTENSION_KEY)
    if found is None:
        found = app.extensions[EXTENSION_KEY] = backend(app.extensions["mayak.settings"])
    return found


def redirect_origins(settings: Settings) -> frozenset[str]:
    """The origins downloads may redirect to: the bucket's, when presigned downloads are on (the header guard
    refuses a redirect to any other site). Read from a URL the client signs offline: no request is made."""
    if not (settings.storage.presigned_downloads and settings.storage.kind == "s3" and settings.storage.s3):
        return frozenset()
    from urllib.parse import urlsplit

    url = backend(settings).download_url("files/00/probe", disposition="attachment",
                                         content_type="application/octet-stream")
    parts = urlsplit(url or "")
    return frozenset({f"{parts.scheme}://{parts.netloc}"}) if parts.scheme and parts.netloc else frozenset()


def presigned_downloads() -> bool:
    """Whether downloads are answered with a redirect to a short-lived URL of the bucket (S3 only)."""
    settings = current_app.extensions["mayak.settings"]
    return bool(settings.storage.presigned_downloads) and current().name == "s3"
