"""Twilio's wire format, without Flask or the database: the ``X-Twilio-Signature`` check, the addresses Twilio calls
back, the TwiML Mayak answers, and status, recording and ``<Dial>`` callbacks read into :class:`CallEvent` items.

How a Twilio call becomes one CRM call. Twilio reports every *leg* on its own: an inbound call is the caller's leg
(the parent ``CallSid``) plus one child leg per manager our ``<Dial>`` rings (``ParentCallSid`` = the parent); a
click-to-call is the manager's leg (created through the REST API) plus the client's child leg its TwiML dials. The
conversation's id is therefore the parent ``CallSid`` (``call_id``), the leg's own ``CallSid`` is ``leg_id``.

A leg is either the *client's* or the *manager's*, and that decides what its states mean: the parent of an inbound
call is "in progress" as soon as Twilio runs our TwiML, long before anyone talks, so only the manager's leg being
answered answers an inbound conversation (and only the client's leg an outbound one). A manager's leg ending does
not end an inbound conversation either: the caller may be put through to another manager (a transfer, a second
``<Dial>`` of the same parent); the caller's leg or our ``<Dial>``'s action ends it. Twilio does not say in a
child's callback which way the conversation goes, so every callback address Mayak hands Twilio carries that context
in its query (``dir``, our ``line``, the ``client``'s number, our click-to-call ``ref``); Twilio signs the whole
address, query included, so the context is as trustworthy as the rest of the callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

from mayak import CallDirection, CallEvent, CallState, IncomingCall, RecordingRef, signature_matches, utcnow

E164 = re.compile(r"\+[1-9]\d{6,14}")
SID = re.compile(r"[A-Za-z]{2}[0-9a-fA-F]{32}")
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")  # what a leg's statusCallbackEvent asks for
UNANSWERED = ("busy", "no-answer", "failed", "canceled")
RINGING_STATUSES = ("queued", "initiated", "ringing")
CONTEXT_KEYS = ("dir", "line", "client", "ref")
_PLAIN = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what a context value may be as it is (below: why)
TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


# --- the signature ------------------------------------------------------------------------------------------------


def compute_signature(token: str, url: str, params: Mapping[str, Sequence[str]] | None = None,
                      digest: str = "sha1") -> str:
    """Twilio's signature of a request: base64 of the HMAC (SHA-1 for ``X-Twilio-Signature``) keyed with the auth
    token, over the full URL Twilio requested followed by every POST parameter name and value, names sorted and each
    name's values sorted (as twilio-python's ``RequestValidator`` computes it, repeated values once)."""
    data = url + "".join(name + value for name in sorted(params or {})
                         for value in sorted(set(_values((params or {})[name]))))
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode("ascii")


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def port_variants(url: str) -> list[str]:
    """``url`` as given, without its port and with the scheme's default port: Twilio's validator accepts each, as
    Twilio may sign the address with or without ``:443``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return [url]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    try:
        port = parts.port
    except ValueError:
        return [url]
    bare = urlunsplit(parts._replace(netloc=host))
    default = 443 if parts.scheme == "https" else 80
    found = [url, bare] if port else [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))]
    return list(dict.fromkeys(found))


def signed(token: str, urls: Iterable[str], params: Mapping[str, Sequence[str]], signature: str | None) -> str | None:
    """The first of ``urls`` (each tried with and without its port) whose signature is ``signature``, else ``None``.
    Every comparison is constant-time."""
    if not token or not signature:
        return None
    for url in urls:
        for variant in port_variants(url):
            if signature_matches(compute_signature(token, variant, params), signature):
                return url
    return None


def public_variant(public_url: str, path: str, called_url: str) -> str | None:
    """The address Twilio called when a proxy in front of Mayak rewrote it: the configured public base (``https://
    crm.example.com``, maybe with a path prefix) with the request's path and query."""
    if not public_url:
        return None
    query = urlsplit(called_url).query if called_url else ""
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


def stored_bases(headers: Mapping[str, str]) -> list[str]:
    """Where a stored delivery may have been sent (``scheme://host``), for rebuilding the address Twilio called when
    only the stored request is left: the proxy's forwarded scheme and host, then the Host header over https and
    http. The caller keeps the one the signature proves."""
    found = []
    host = _first(headers.get("x-forwarded-host")) or _first(headers.get("host"))
    proto = _first(headers.get("x-forwarded-proto"))
    if host and proto in ("http", "https"):
        found.append(f"{proto}://{host}")
    plain = _first(headers.get("host"))
    for scheme in ("https", "http"):
        for name in dict.fromkeys(h for h in (host, plain) if h):
            found.append(f"{scheme}://{name}")
    return [b for b in dict.fromkeys(found) if _is_host(urlsplit(b).netloc)]


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def _is_host(netloc: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?", netloc))


# --- whom to ring -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Whom a ``<Dial>`` (or a REST call's ``To``) rings: ``noun`` is ``Number``, ``Client`` or ``Sip``."""

    noun: str
    value: str

    @property
    def address(self) -> str:
        """As the REST API's ``To`` and a leg's ``To`` name it (``client:olga``)."""
        return f"client:{self.value}" if self.noun == "Client" else self.value


def target(extension: str, sip_domain: str = "") -> Target | None:
    """What a manager's extension (or the fallback setting) rings: ``+79161234567`` a phone, ``sip:101@pbx.example``
    a SIP address, ``client:olga`` or a plain name a Twilio Client (a softphone in the browser or app), and digits
    with a SIP domain configured ``sip:<digits>@<domain>``. ``None`` for an empty or unusable value."""
    value = (extension or "").strip()
    if not value or any(ord(c) < 33 for c in value) or len(value) > 256:
        return None
    if E164.fullmatch(value):
        return Target("Number", value)
    if value.lower().startswith("sip:"):
        return Target("Sip", value) if "@" in value else None
    if value.lower().startswith("client:"):
        return Target("Client", value[7:]) if value[7:] else None
    if value.isdigit() and sip_domain:
        return Target("Sip", f"sip:{value}@{sip_domain}")
    return Target("Client", value)


def extension_of(address: str | None) -> str | None:
    """The extension a leg rang, from its ``To``: the inverse of :func:`target` (``client:olga`` → ``olga``,
    ``sip:101@pbx`` → ``101``, a phone number as it is)."""
    value = (address or "").strip()
    if not value:
        return None
    lower = value.lower()
    if lower.startswith("client:"):
        return value[7:] or None
    if lower.startswith("sip:"):
        user = value[4:].split("@", 1)[0].split(";", 1)[0]
        return user or None
    return value


# --- callback addresses -------------------------------------------------------------------------------------------


def encode_value(value: str) -> str:
    """A context value safe in a signed callback address. Werkzeug rebuilds the requested address with some escapes
    undone (``%3A`` becomes ``:``), which would break the signature; a value of plain characters goes as it is, a
    phone number's ``+`` as ``%2B`` (kept as it is), anything else as ``~`` + base64url."""
    if _PLAIN.fullmatch(value) or (value.startswith("+") and _PLAIN.fullmatch(value[1:])):
        return value
    return "~" + base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")


def decode_value(value: str) -> str:
    if not value.startswith("~"):
        return value
    raw = value[1:]
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("a callback context value is not readable") from exc


def callback_url(root: str, path: str, **context: str | None) -> str:
    """``<root>/<path>?dir=..&line=..``: an address under ``/webhooks/twilio`` with the call's context."""
    values = {key: encode_value(value) for key, value in context.items() if value}
    return f"{root}/{path}" + ("?" + urlencode(values) if values else "")


def context_of(query: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The context Mayak put into a callback address, read back (unknown keys ignored)."""
    found = {}
    for key in CONTEXT_KEYS:
        values = query.get(key) or []
        if values and values[0]:
            found[key] = decode_value(values[0])
    return found


# --- TwiML --------------------------------------------------------------------------------------------------------


def twiml(element: ElementTree.Element) -> str:
    return TWIML_HEAD + ElementTree.tostring(element, encoding="unicode")


def reject(reason: str = "busy") -> str:
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Reject", reason=reason)
    return twiml(response)


def hangup() -> str:
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Hangup")
    return twiml(response)


def redirect(url: str) -> str:
    """Continue the call with the TwiML at ``url`` (relative to the address Twilio is on)."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Redirect", method="POST").text = url
    return twiml(response)


@dataclass(frozen=True, kw_only=True)
class DialPlan:
    """One ``<Dial>``: the targets rung at once, how long, whether recorded, and where Twilio reports each leg."""

    targets: Sequence[Target]
    status_url: str
    timeout: int = 25
    record: bool = True
    recording_url: str | None = None
    action_url: str | None = None
    caller_id: str | None = None
    caller_name: str | None = None


def dial(plan: DialPlan) -> str:
    """``<Response><Dial>`` with one noun per target, each reporting ``initiated ringing answered completed`` to
    ``status_url``; recorded from the answer (both sides, two channels) when ``record``."""
    response = ElementTree.Element("Response")
    attrs = {"timeout": str(plan.timeout), "answerOnBridge": "true"}
    if plan.action_url:
        attrs.update(action=plan.action_url, method="POST")
    if plan.caller_id:
        attrs["callerId"] = plan.caller_id
    if plan.record:
        attrs["record"] = "record-from-answer-dual"
        if plan.recording_url:
            attrs.update(recordingStatusCallback=plan.recording_url, recordingStatusCallbackMethod="POST",
                         recordingStatusCallbackEvent="completed")
    verb = ElementTree.SubElement(response, "Dial", attrs)
    for one in plan.targets[:10]:  # Twilio rings at most ten nouns of one <Dial> at once
        noun = ElementTree.SubElement(verb, one.noun, statusCallback=plan.status_url, statusCallbackMethod="POST",
                                      statusCallbackEvent=" ".join(CALL_EVENTS))
        if one.noun == "Client":
            ElementTree.SubElement(noun, "Identity").text = one.value
            if plan.caller_name:  # the softphone shows who calls
                ElementTree.SubElement(noun, "Parameter", name="callerName", value=plan.caller_name[:200])
        else:
            noun.text = one.value
    return twiml(response)


# --- callbacks into events ----------------------------------------------------------------------------------------


def params_of(form: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A callback's parameters, one value each (Twilio never repeats one)."""
    return {key: values[0] if values else "" for key, values in form.items()}


def incoming_call(params: Mapping[str, str]) -> IncomingCall:
    """The call Twilio asks the voice URL about: ``From`` called our ``To``."""
    sid = _required(params, "CallSid")
    return IncomingCall(call_id=sid, from_number=params.get("From") or None, line_number=params.get("To") or None,
                        raw=dict(params))


def status_events(params: Mapping[str, str], context: Mapping[str, str],
                  now: datetime | None = None) -> list[CallEvent]:
    """A leg's status callback (``CallStatus``) as the conversation's event; an unknown status gives none."""
    sid = _required(params, "CallSid")
    status = _required(params, "CallStatus").lower()
    if status not in (*RINGING_STATUSES, "in-progress", "completed", *UNANSWERED):
        return []
    parent = params.get("ParentCallSid") or None
    inbound = _inbound(params, context, parent)
    clients_leg = (inbound and parent is None) or (not inbound and (parent is not None or "client" not in context))
    talk_leg = not clients_leg if inbound else clients_leg  # the leg whose answer is the conversation's answer
    numbers = _numbers(params, context, inbound=inbound, clients_leg=clients_leg)
    extension = None if clients_leg else extension_of(params.get("To"))
    duration = reason = answered_at = None
    moment = _moment(params.get("Timestamp"), now)
    if status in RINGING_STATUSES:
        state = CallState.RINGING
    elif status == "in-progress":
        state = CallState.ANSWERED if talk_leg else CallState.RINGING
    elif status == "completed" and inbound and not clients_leg and "dir" in context:
        # a manager's leg of an inbound call Mayak dialled is over, but the caller may be on the line still, put
        # through to another manager (a transfer): the leg was answered, the conversation ends with the caller's
        # leg or our <Dial>'s action. No extension: a late callback of this leg never takes the call back from
        # whoever answered after it.
        state, extension = CallState.ANSWERED, None
        talked = _int(params.get("CallDuration"))
        try:
            answered_at = moment - timedelta(seconds=talked) if talked is not None else None
        except OverflowError:  # a Timestamp near the year 1
            answered_at = None
    elif status == "completed":
        state = CallState.ENDED
        duration = _int(params.get("CallDuration")) if talk_leg else None  # a parent's counts the ringing too
    else:
        reason = status
        # a manager who did not pick up an inbound call is one leg of it: the caller may still be put through
        state = CallState.RINGING if inbound and not clients_leg else CallState.ENDED
    sequence = _int(params.get("SequenceNumber"))
    return [CallEvent(call_id=parent or sid, leg_id=sid, state=state, direction=_direction(inbound),
                      occurred_at=moment, answered_at=answered_at, extension=extension, duration=duration,
                      reason=reason, sequence=sequence, reference=context.get("ref"),
                      event_id=":".join(p for p in (sid, status, params.get("SequenceNumber", "")) if p),
                      raw=dict(params), **numbers)]


def dial_end_events(params: Mapping[str, str], context: Mapping[str, str],
                    now: datetime | None = None) -> list[CallEvent]:
    """The ``<Dial>``'s action request: the dialled legs are over and our answer hangs up, so the conversation
    ends; ``DialCallDuration`` is its talk time when someone answered."""
    sid = _required(params, "CallSid")
    outcome = _required(params, "DialCallStatus").lower()
    answered = outcome in ("completed", "answered")
    inbound = context.get("dir", "in") != "out"
    numbers = _numbers(params, context, inbound=inbound, clients_leg=True)
    return [CallEvent(call_id=params.get("ParentCallSid") or sid, state=CallState.ENDED,
                      direction=_direction(inbound), occurred_at=_moment(params.get("Timestamp"), now),
                      duration=_int(params.get("DialCallDuration")) if answered else None,
                      reason=None if answered else outcome, reference=context.get("ref"),
                      event_id=f"dial:{sid}:{params.get('DialCallSid', '')}", raw=dict(params), **numbers)]


def recording_events(params: Mapping[str, str], context: Mapping[str, str],
                     now: datetime | None = None) -> list[CallEvent]:
    """A recording status callback: a finished recording is the call's :class:`RecordingRef`, carried by an event
    that changes nothing else (a ringing at the recording's start: no earlier than the call's own start, no answer
    or end claimed); an absent or failed recording gives none."""
    sid = _required(params, "CallSid")
    if _required(params, "RecordingStatus").lower() != "completed":
        return []
    recording_sid = _required(params, "RecordingSid")
    if not SID.fullmatch(recording_sid):
        raise ValueError("RecordingSid is not a Twilio id")
    ref = RecordingRef(ref=recording_sid, url=params.get("RecordingUrl") or None,
                       duration=_int(params.get("RecordingDuration")), content_type="audio/mpeg")
    return [CallEvent(call_id=params.get("ParentCallSid") or sid, state=CallState.RINGING,
                      direction=_direction(context.get("dir", "in") != "out"),
                      occurred_at=_moment(params.get("RecordingStartTime") or params.get("Timestamp"), now),
                      recording=ref, reference=context.get("ref"), event_id=f"rec:{recording_sid}",
                      raw=dict(params))]


def _inbound(params: Mapping[str, str], context: Mapping[str, str], parent: str | None) -> bool:
    """Whether the conversation is inbound: a parent leg says so itself (``Direction``); a child only through the
    context in its callback address (a child of a ``<Dial>`` Mayak did not write counts as inbound)."""
    if parent is None:
        return (params.get("Direction") or "").lower() == "inbound"
    return context.get("dir", "in") != "out"


def _numbers(params: Mapping[str, str], context: Mapping[str, str], *, inbound: bool,
             clients_leg: bool) -> dict[str, str | None]:
    """The conversation's numbers as core reads them: from the client (inbound) or to the client (outbound), and our
    line; a manager's leg names the manager where the conversation names the client."""
    line = context.get("line") or None
    if inbound:
        to = params.get("To") if clients_leg else line
        return {"from_number": params.get("From") or None, "to_number": to or None,
                "line_number": line or (to if clients_leg else None) or None}
    client = (params.get("To") if clients_leg else context.get("client")) or None
    line = line or params.get("From") or None
    return {"from_number": line, "to_number": client, "line_number": line}


def _direction(inbound: bool) -> CallDirection:
    return CallDirection.INBOUND if inbound else CallDirection.OUTBOUND


def _required(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value or len(value) > 200:
        raise ValueError(f"the callback has no usable {name}")
    return value


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _moment(value: str | None, now: datetime | None) -> datetime:
    """An RFC 2822 time (``Tue, 01 Dec 2026 10:00:00 +0000``, Twilio's ``Timestamp``) in UTC; ``now`` when it is
    missing or unreadable."""
    moment = None
    if value:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
    moment = moment or now or utcnow()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
