"""What the twilio plugin's tests share: the test account, Twilio's callbacks as Twilio sends them (form-encoded,
signed over the address it calls, directly or through a proxy), the TwiML read back, and the CRM's side (a manager
with an extension, a client who is theirs, the calls core folded)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mayak import Contact, User, db
from mayak.testing import create_user, sample_contact
from plugins.twilio.wire import compute_signature

ACCOUNT = "AC" + "5e1f" * 8
TOKEN = "test-auth-token-5e1f0123456789ab"
LINE = "+74951112233"  # our Twilio number
CLIENT = "+79161234567"  # a client who calls us
STRANGER = "+79035550101"  # someone the CRM does not know
FALLBACK = "client:reception"
FORM = "application/x-www-form-urlencoded"
PUBLIC = "https://crm.example.com"
T0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)  # recent: recordings are still wanted


def sid(prefix: str, n: int) -> str:
    """A Twilio id: ``CA`` + 32 hex digits."""
    return prefix + f"{n:032x}"


def at(seconds: int) -> str:
    """Twilio's ``Timestamp``: RFC 2822, ``seconds`` after :data:`T0`."""
    return format_datetime(T0 + timedelta(seconds=seconds))


def leg(call_sid: str, status: str, seconds: int, *, frm: str, to: str, direction: str, parent: str | None = None,
        seq: int | None = None, duration: int | None = None) -> dict[str, str]:
    """A status callback's parameters, as Twilio posts them for one leg."""
    params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": status,
              "Direction": direction, "From": frm, "To": to, "Caller": frm, "Called": to, "Timestamp": at(seconds),
              "CallbackSource": "call-progress-events"}
    if parent:
        params["ParentCallSid"] = parent
    if seq is not None:
        params["SequenceNumber"] = str(seq)
    if duration is not None:
        params["CallDuration"] = str(duration)
    return params


def voice(call_sid: str, caller: str, line: str = LINE) -> dict[str, str]:
    """The voice URL request for an incoming call."""
    return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": "ringing",
            "Direction": "inbound", "From": caller, "To": line, "Caller": caller, "Called": line,
            "CallerCountry": "RU", "CalledCountry": "RU"}


def recording(call_sid: str, recording_sid: str, seconds: int, length: int) -> dict[str, str]:
    return {"AccountSid": ACCOUNT, "CallSid": call_sid, "RecordingSid": recording_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording_sid}",
            "RecordingStatus": "completed", "RecordingDuration": str(length), "RecordingChannels": "2",
            "RecordingStartTime": at(seconds), "RecordingSource": "DialVerb", "ErrorCode": "0"}


def dial_end(call_sid: str, child: str, outcome: str, talk: int | None, caller: str, line: str = LINE
             ) -> dict[str, str]:
    """The ``<Dial>`` action request: the parent's parameters and how the dialled call went."""
    params = {**voice(call_sid, caller, line), "CallStatus": "in-progress", "DialCallSid": child,
              "DialCallStatus": outcome}
    if talk is not None:
        params["DialCallDuration"] = str(talk)
    return params


def signature(url: str, params: Mapping[str, str], token: str = TOKEN) -> str:
    return compute_signature(token, url, {k: [v] for k, v in params.items()})


def post(client: FlaskClient, url: str, params: Mapping[str, str], *, token: str = TOKEN,
         signed_url: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
    """POST ``params`` to the absolute ``url`` as Twilio does, signed over ``signed_url`` (default: ``url``)."""
    parts = urlsplit(url)
    return client.post(parts.path + (f"?{parts.query}" if parts.query else ""), base_url=f"{parts.scheme}://"
                       f"{parts.netloc}", data=urlencode(params), content_type=FORM,
                       headers={"X-Twilio-Signature": signature(signed_url or url, params, token), **(headers or {})})


def via_proxy(client: FlaskClient, public_url: str, params: Mapping[str, str]) -> Any:
    """Twilio → nginx → Mayak: Twilio calls (and signs) the public address; the proxy passes the request on to
    Mayak's own address with the ``X-Forwarded-*`` headers."""
    parts = urlsplit(public_url)
    return post(client, f"http://127.0.0.1:8000{parts.path}" + (f"?{parts.query}" if parts.query else ""), params,
                signed_url=public_url, headers={"X-Forwarded-Proto": parts.scheme, "X-Forwarded-Host": parts.netloc,
                                                "X-Forwarded-For": "54.172.60.10"})


@dataclass
class Dialled:
    """A ``<Dial>`` read back from TwiML."""

    targets: list[tuple[str, str]] = field(default_factory=list)
    status_urls: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    caller_names: list[str] = field(default_factory=list)


def read_dial(body: bytes | str) -> Dialled:
    root = ElementTree.fromstring(body)  # noqa: S314 (the plugin's own TwiML, in a test)
    assert root.tag == "Response", body
    verb = root.find("Dial")
    assert verb is not None, f"no <Dial> in {body!r}"
    found = Dialled(attrs=dict(verb.attrib))
    for noun in verb:
        identity = noun.find("Identity")
        found.targets.append((noun.tag, (identity.text if identity is not None else noun.text) or ""))
        found.status_urls.append(noun.attrib["statusCallback"])
        assert noun.attrib["statusCallbackEvent"] == "initiated ringing answered completed"
        found.caller_names += [p.attrib["value"] for p in noun.findall("Parameter") if p.attrib["name"] == "callerName"]
    return found


def manager(app: Flask, email: str, extension: str) -> int:
    """A manager whose phone (``extension``: a Twilio client name, a SIP login or a number) rings for their
    clients."""
    user = create_user(app, email, full_name="Ольга Менеджер")
    with app.app_context():
        db.session.get(User, user.id).extension = extension
        db.session.commit()
    return user.id


def client_of(app: Flask, owner_id: int | None, phone: str = CLIENT, name: str = "Анна") -> int:
    contact_id = sample_contact(app, name, phone=phone)
    if owner_id is not None:
        with app.app_context():
            db.session.get(Contact, contact_id).owner_id = owner_id
            db.session.commit()
    return contact_id


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    """Rows of ``model``, detached, for reading outside the app context."""
    with app.app_context():
        found = list(db.session.scalars(select(model).where(*where).order_by(model.id)))
        for row in found:
            db.session.expunge(row)
        return found
