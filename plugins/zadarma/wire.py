"""Zadarma's wire format: how requests to the REST API are signed, how call notifications are signed and read.

Both signatures are ``base64(hex(HMAC-SHA1(secret, text)))`` — base64 of the 40-character *hex* digest, as PHP's
``hash_hmac`` returns it, not of the raw digest as Zadarma's documentation says.

* REST: ``text = method_path + query + md5_hex(query)``, where ``query`` is the sorted parameters (``format=json``
  included) encoded the way PHP's ``http_build_query`` does (RFC 1738: a space is ``+``, ``~`` is ``%7E``); the
  header is ``Authorization: <key>:<signature>``.
* Notifications: ``text`` is a concatenation of some of the fields, per event (:data:`SIGNED_FIELDS`), in the
  ``Signature`` header. Only those fields are signed: the rest of a notification is as trustworthy as the network
  it came over.

Notifications are form-encoded, sometimes ``multipart/form-data`` (with a boundary that may not match the
header's): :func:`read_fields` takes both and gives each field's first value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote_plus

from mayak import MalformedBody, WebhookRequest

SIGNATURE_HEADER = "Signature"
MAX_FIELDS = 200

START, INTERNAL, ANSWER, END = "NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END"
OUT_START, OUT_END, RECORD, IVR = "NOTIFY_OUT_START", "NOTIFY_OUT_END", "NOTIFY_RECORD", "NOTIFY_IVR"

# The fields whose values, concatenated in this order, Zadarma signs for each event (its SDK's getSignatureString).
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    START: ("caller_id", "called_did", "call_start"),
    INTERNAL: ("caller_id", "called_did", "call_start"),
    END: ("caller_id", "called_did", "call_start"),
    IVR: ("caller_id", "called_did", "call_start"),
    ANSWER: ("caller_id", "destination", "call_start"),
    OUT_START: ("internal", "destination", "call_start"),
    OUT_END: ("internal", "destination", "call_start"),
    RECORD: ("pbx_call_id", "call_id_with_rec"),
}


def sign(secret: str, text: str) -> str:
    """``base64(hex(HMAC-SHA1(secret, text)))``."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


# --- the REST API ---------------------------------------------------------------------------------------------


def php_query(params: Mapping[str, object]) -> str:
    """The parameters sorted by name and encoded as PHP's ``http_build_query(..., PHP_QUERY_RFC1738)`` does."""

    def encode(value: object) -> str:
        return quote_plus(str(value), safe="").replace("~", "%7E")

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted((str(k), v) for k, v in params.items()))


def rest_signature(secret: str, method_path: str, params: Mapping[str, object]) -> tuple[str, str]:
    """``(query, signature)`` of a request to ``method_path`` (``/v1/request/callback/``) with ``params``
    (``format`` already in them)."""
    query = php_query(params)
    checksum = hashlib.md5(query.encode("utf-8")).hexdigest()  # noqa: S324 (Zadarma's scheme, not a safeguard)
    return query, sign(secret, method_path + query + checksum)


def authorization(key: str, secret: str, method_path: str, params: Mapping[str, object]) -> tuple[str, str]:
    """``(query, Authorization header value)``; ``format=json`` is added to ``params`` before signing, as both of
    Zadarma's SDKs do."""
    query, signature = rest_signature(secret, method_path, {**params, "format": "json"})
    return query, f"{key}:{signature}"


# --- call notifications -------------------------------------------------------------------------------------------


def signed_text(fields: Mapping[str, str]) -> str | None:
    """What Zadarma signed in this notification, or ``None`` for an event whose signature this plugin does not
    know (it cannot be verified, so it is refused)."""
    names = SIGNED_FIELDS.get(fields.get("event", ""))
    if names is None:
        return None
    return "".join(fields.get(name, "") for name in names)


def notification_signature(secret: str, fields: Mapping[str, str]) -> str | None:
    text = signed_text(fields)
    return None if text is None else sign(secret, text)


def read_fields(request: WebhookRequest) -> dict[str, str]:
    """The notification's fields, each its first value; :class:`MalformedBody` when the body cannot be read."""
    mime = request.content_type.split(";", 1)[0].strip().lower()
    if mime == "multipart/form-data":
        return parse_multipart(request.body, request.content_type)
    try:
        form = request.form()
    except ValueError as exc:  # MalformedBody is a ValueError too
        raise MalformedBody("the body is not form-encoded") from exc
    if len(form) > MAX_FIELDS:
        raise MalformedBody("too many fields")
    return {name: values[0] for name, values in form.items() if values}


_BOUNDARY = re.compile(r'boundary=(?:"(?P<quoted>[^"]{1,200})"|(?P<plain>[^\s;]{1,200}))', re.IGNORECASE)
_NAME = re.compile(r'(?:^|;)\s*name=(?:"(?P<quoted>[^"]*)"|(?P<plain>[^\s;]*))', re.IGNORECASE)


def parse_multipart(body: bytes, content_type: str) -> dict[str, str]:
    """A ``multipart/form-data`` body of text fields. The delimiter is the body's own first line when it is one
    (``--...``): a sender whose header names another boundary is still read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("the body is not UTF-8 text") from exc
    text = text.replace("\r\n", "\n")
    first_line = text.lstrip("\n").split("\n", 1)[0].rstrip()
    if first_line.startswith("--") and len(first_line) > 2:
        delimiter = first_line
    else:
        match = _BOUNDARY.search(content_type)
        if match is None:
            raise MalformedBody("the multipart body has no boundary")
        delimiter = "--" + (match["quoted"] or match["plain"])
    segments = ("\n" + text.lstrip("\n")).split("\n" + delimiter)
    if len(segments) < 2:
        raise MalformedBody("the multipart body has no parts")
    fields: dict[str, str] = {}
    for count, segment in enumerate(segments[1:], start=1):
        if segment.startswith("--"):
            break  # the closing delimiter
        if count > MAX_FIELDS:
            raise MalformedBody("too many fields")
        head, separator, value = segment.partition("\n\n")
        if not separator:
            raise MalformedBody("a multipart part has no headers")
        name = _part_name(head)
        if name is not None:
            fields.setdefault(name, value)
    return fields


def _part_name(head: str) -> str | None:
    for line in head.split("\n"):
        key, _, rest = line.partition(":")
        if key.strip().lower() == "content-disposition":
            match = _NAME.search(rest)
            if match is not None:
                return match["quoted"] if match["quoted"] is not None else match["plain"]
    return None
