"""Files attached to a client's timeline: kept in the storage (:mod:`core.services.platform.storage`) under
``files/ab/<sha256>`` (never by the uploaded name, so no name can reach outside it), typed by their first bytes
rather than by what the browser claimed, and served only to people who may see the client."""

from __future__ import annotations

import hashlib
import tempfile
import unicodedata
from typing import IO, Any, NamedTuple

from flask_babel import lazy_gettext as _l

from core.db import db
from core.models import Attachment
from core.services.clients import timeline
from core.services.platform import audit, storage
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput

MAX_BYTES = 25 * 1024 * 1024
CHUNK = 64 * 1024
SPOOL_BYTES = 1024 * 1024  # a file is hashed on its way in; bigger ones wait on disk, not in memory
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "audio/mpeg", "audio/wav",
               "audio/ogg"}


class FileGone(LookupError):
    """The attachment is on the timeline but its file is not in the storage any more (lost with a disk, deleted
    by hand, or not moved to a new storage yet)."""


def key_of(sha256: str) -> str:
    """Where a file is stored: its SHA-256, under a folder of its first two digits."""
    return storage.validate_key(f"files/{sha256[:2]}/{sha256}")


def sniff(head: bytes) -> str:
    """The real type of a file from its first bytes; anything unknown is served as a plain download."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    return "application/octet-stream"


NAME_LIMIT = 255
_WINDOWS_RESERVED = str.maketrans({c: "_" for c in '<>:"/\\|?*'})


def safe_name(name: str | None) -> str:
    """The name a file is kept and offered under: the last part of the uploaded path, NFC, without control,
    format (bidi overrides, zero-width), surrogate, private-use or unassigned characters, without the characters
    Windows refuses in names, trimmed of spaces and dots, at most 255 characters with its extension kept.

    Applied when a file is saved and again when it is served, so a name stored before this rule cannot split a
    response or make its file undownloadable."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text).translate(_WINDOWS_RESERVED)
    text = " ".join(text.split()).strip(" .")
    if len(text) > NAME_LIMIT:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and stem and 0 < len(ext) <= 16 else ""
        text = (text[: NAME_LIMIT - len(ext) - 1].rstrip(" .") + "." + ext) if ext else text[:NAME_LIMIT].rstrip(" .")
    return text or "file"


class Blob(NamedTuple):
    """A file written into the storage: where (its SHA-256), how big, and its type from its first bytes."""

    sha256: str
    size: int
    content_type: str


def write_blob(stream: IO[bytes], *, limit: int = MAX_BYTES) -> Blob:
    """Copy ``stream`` into the storage under its SHA-256 (a file stored twice is kept once); refuses a file
    larger than ``limit`` or empty (:class:`InvalidInput`), leaving nothing behind."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        while chunk := stream.read(CHUNK):
            if not head:
                head = chunk[:16]
            size += len(chunk)
            if size > limit:
                raise InvalidInput({"file": _l("The file is larger than %(mb)d MB.", mb=limit // 1024 // 1024)})
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            raise InvalidInput({"file": _l("The file is empty.")})
        sha = digest.hexdigest()
        store = storage.current()
        if store.size(key_of(sha)) != size:  # the same bytes are already kept: nothing to write
            spool.seek(0)
            store.write(key_of(sha), spool)
    return Blob(sha, size, sniff(head))


def attach_blob(activity_id: int, blob: Blob, filename: str) -> Attachment:
    """A stored file attached to a timeline entry, without a permission check (the system's own files: a call's
    recording); joins the caller's transaction."""
    attachment = Attachment(activity_id=activity_id, filename=safe_name(filename), content_type=blob.content_type,
                            size=blob.size, sha256=blob.sha256)
    db.session.add(attachment)
    db.session.flush()
    return attachment


def store(actor: Actor, *, stream: IO[bytes], filename: str, contact: Any = None, company: Any = None) -> Attachment:
    target = contact or company
    entity = "contact" if contact is not None else "company"
    require(actor.user, "edit", entity, target)
    blob = write_blob(stream)
    name = safe_name(filename)
    entry = timeline.record(kind="file", contact_id=contact.id if contact else None,
                            company_id=company.id if company else None, author_id=actor.user_id, title=name)
    attachment = attach_blob(entry.id, blob, name)
    audit.record(actor, "file.uploaded", entity, target.id, {"file": name, "size": blob.size, "sha256": blob.sha256})
    db.session.flush()
    return attachment


def get_for(actor: Actor, attachment_id: int) -> Attachment:
    """The attachment, if ``actor`` may see the client it belongs to (else LookupError/AccessDenied). Reads the
    database only: whether its file is still stored is known when it is opened."""
    from core.services.clients import companies, contacts

    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise LookupError(attachment_id)
    activity = attachment.activity
    if activity.contact_id is not None:
        contacts.get(actor, activity.contact_id)
    else:
        companies.get(actor, activity.company_id or 0)
    return attachment


def open_file(attachment: Attachment) -> IO[bytes]:
    """The attachment's file as a stream to close; :class:`FileGone` when the storage no longer holds it. No
    access check: see :func:`get_for`."""
    try:
        return storage.current().open(key_of(attachment.sha256))
    except storage.ObjectMissing as exc:
        raise FileGone(attachment.id) from exc


def open_for(actor: Actor, attachment_id: int) -> tuple[Attachment, IO[bytes]]:
    """The attachment and its file as a stream to close, if ``actor`` may see the client it belongs to (else
    LookupError/AccessDenied); :class:`FileGone` when the storage no longer holds the file."""
    attachment = get_for(actor, attachment_id)
    return attachment, open_file(attachment)
