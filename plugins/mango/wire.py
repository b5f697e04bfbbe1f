"""Mango Office VPBX wire format: the signed form every request and notification carries, Mango's codes, and
its values read strictly (:mod:`.notices` reads whole notifications with them). Pure functions: no settings, no
database, no network.

Every call to the API and every notification Mango posts is ``application/x-www-form-urlencoded`` with three
fields: ``vpbx_api_key`` (the PBX's key), ``json`` (the payload, as a JSON string) and ``sign`` =
``sha256_hex(vpbx_api_key + json + api_salt)``, computed over the exact ``json`` string sent.

Mango's numbers are international digits without the plus (``74955404444``); they are handed to the core as E.164
(``+74955404444``). An internal number (``101``) only ever goes into ``extension`` fields, and a SIP address
(``sip:101@example.mangosip.ru``) into none: neither is a client's phone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from mayak import MalformedBody, WebhookRequest, signature_matches

API_URL = "https://app.mango-office.ru/vpbx/"
ROUTE_PREFIX = "mayak-route-"  # our routing commands' ids: Mango echoes them, but they name no click-to-call
MAX_ID = 200  # Mango's ids are short base64 strings; the core keeps at most this much of a call id

# Mango's end-of-call codes (API v1.9, "disconnect_reason"), as the words the core files an outbound call under:
# "busy" → busy, "failed"/"unavailable" → failed, anything else → no answer.
REASONS: dict[int, str] = {
    1100: "normal", 1110: "caller hung up", 1111: "no answer", 1120: "callee hung up", 1121: "busy",
    1122: "rejected", 1123: "do not disturb", 1130: "failed: number restricted", 1131: "unavailable",
    1132: "failed: number not in service", 1133: "failed: no such number", 1134: "failed: too many forwards",
    1140: "failed: region barred", 1150: "failed: caller restricted", 1151: "failed: caller blacklisted",
    1152: "failed: caller not whitelisted", 1160: "group call failed", 1161: "hold barred", 1162: "queue full",
    1163: "queue timeout", 1164: "no operator available", 1170: "ended by the scenario",
    1171: "failed: scenario misconfigured", 1180: "ended by a user", 1181: "ended by an external system",
    1182: "taken by another operator", 1183: "passed to another operator", 1190: "number inactive",
    1191: "number inactive", 1192: "number inactive by schedule",
}
# an inbound leg that ended with one of these was never talked on: the core files it as missed unless another leg
# of the call answered
UNANSWERED = frozenset({1111, 1121, 1122, 1123, 1130, 1131, 1132, 1133, 1134, 1140, 1150, 1151, 1152, 1160,
                        1162, 1163, 1164, 1170, 1171, 1190, 1191, 1192})
# Mango's result codes (commands, queries, result/callback) in a few words, for the provider's message
RESULTS: dict[int, str] = {
    1000: "ok", 2000: "billing restriction", 2100: "account unavailable", 2110: "account blocked",
    2120: "account closed", 2130: "account frozen", 2140: "account invalid", 2200: "account restricted",
    2210: "usage period over", 2211: "daily limit reached", 2212: "monthly limit reached",
    2220: "too many simultaneous calls", 2230: "service unavailable", 2240: "insufficient funds",
    2250: "usage limit reached", 2300: "direction blocked", 2400: "billing error", 3000: "bad request",
    3100: "bad parameters", 3101: "not a POST", 3102: "sign mismatch", 3103: "parameter missing",
    3104: "parameter malformed", 3105: "wrong API key", 3200: "wrong number", 3300: "no such object",
    3310: "call not found", 3320: "recording not found", 3330: "number not found", 3340: "file not found",
    4000: "cannot be done", 4001: "command not supported", 4100: "impossible by the PBX's logic",
    4101: "call ended or absent", 4200: "the party cannot be reached now", 4401: "hardware error",
    4402: "service unavailable", 4403: "not enough resources", 4500: "security restriction",
    4501: "call rate limited", 5000: "server error", 5001: "overloaded", 5002: "restarting",
    5003: "technical problems", 5004: "database unavailable",
}
_EXTENSION = re.compile(r"[0-9A-Za-z_.+-]{1,20}")
_DIGITS = re.compile(r"\+?[0-9]{10,15}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --- signing -----------------------------------------------------------------------------------------------------


def sign(api_key: str, json_text: str, api_salt: str) -> str:
    """Mango's signature of one request or notification (hex SHA-256 of key + json + salt)."""
    return hashlib.sha256(f"{api_key}{json_text}{api_salt}".encode()).hexdigest()


def dumps(payload: Mapping[str, Any]) -> str:
    """The ``json`` field as Mango's own libraries write it (compact, UTF-8 kept)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def encode(api_key: str, api_salt: str, payload: Mapping[str, Any]) -> bytes:
    """The form body of one API request: key, signature and the payload's JSON."""
    json_text = dumps(payload)
    return urlencode({"vpbx_api_key": api_key, "sign": sign(api_key, json_text, api_salt),
                      "json": json_text}).encode("ascii")


@dataclass(frozen=True)
class SignedForm:
    """The three fields of a notification, as received (``json`` is the exact string that was signed)."""

    api_key: str
    sign: str
    json_text: str


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or []
    if len(values) != 1:
        raise MalformedBody(f"the form needs exactly one {name}")
    return values[0]


def read_form(request: WebhookRequest) -> SignedForm:
    """The notification's fields; :class:`MalformedBody` unless each of them is there exactly once."""
    form = request.form()
    return SignedForm(api_key=_one(form, "vpbx_api_key"), sign=_one(form, "sign"), json_text=_one(form, "json"))


def verified(request: WebhookRequest, api_key: str, api_salt: str) -> bool:
    """Whether the notification is Mango's: our key, and the signature of its ``json`` with our salt. ``False``
    (never an exception) for anything that cannot be checked: no key or salt set, a body that is not the form."""
    if not api_key or not api_salt:
        return False
    try:
        form = read_form(request)
    except ValueError:
        return False
    key_ok = signature_matches(api_key, form.api_key)
    sign_ok = signature_matches(sign(api_key, form.json_text, api_salt), form.sign.strip().lower())
    return key_ok and sign_ok


def payload(request: WebhookRequest) -> dict[str, Any]:
    """The notification's JSON object (its signature was checked before); :class:`MalformedBody` when it is not
    one."""
    text = _one(request.form(), "json")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (RecursionError, ValueError) as exc:
        raise MalformedBody("the json field is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedBody("the json field is not an object")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --- reading values ----------------------------------------------------------------------------------------------


def text(data: Mapping[str, Any], key: str, *, required: bool = False, limit: int = MAX_ID) -> str | None:
    """A string field: stripped, at most ``limit`` characters, no control characters; ``None`` when absent."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip() and len(value.strip()) <= limit and not _CONTROL.search(value):
        return value.strip()
    if required:
        raise MalformedBody(f"{key} is missing or not a short text")
    return None


def number(data: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    """An integer field (Mango writes some as strings); ``None`` when absent."""
    value = data.get(key)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
        return value
    if required:
        raise MalformedBody(f"{key} is missing or not a number")
    return None


def moment(value: int | None) -> datetime | None:
    """A unix time as a UTC datetime; ``None`` for 0 (Mango's "did not happen") or anything implausible."""
    if value is None or not 0 < value < 10**10:
        return None
    return datetime.fromtimestamp(value, UTC)


def party(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def phone(value: object) -> str | None:
    """A number Mango wrote in full, as E.164; ``None`` for an extension, a SIP address or anything else."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    raw = str(value).strip()
    if not _DIGITS.fullmatch(raw):
        return None
    digits = raw.lstrip("+")
    if len(digits) == 11 and digits.startswith("8") and not raw.startswith("+"):
        digits = "7" + digits[1:]  # a Russian number in its domestic form
    return f"+{digits}"


def extension(value: object) -> str | None:
    """An internal number (``101``); ``None`` for anything that is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _EXTENSION.fullmatch(value.strip()):
        return value.strip()
    return None


def dial_number(to: str) -> str:
    """What Mango dials for a core number: E.164 without the plus, or an extension as it is."""
    return to.strip().lstrip("+")


def result_text(code: int | None) -> str:
    """Mango's result code in a few words (``2240 insufficient funds``), for a provider message."""
    if code is None:
        return "no result code"
    return f"{code} {RESULTS[code]}" if code in RESULTS else str(code)
