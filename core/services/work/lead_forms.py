"""Lead-capture forms for websites: the admin's form definitions and the public submission path.

A submission either lands in the inbox (channel ``web_form``) or is kept there as *rejected* with the reason
(honeypot filled, too many posts from one address, a stop phrase, a banned name, filled faster than a person can),
so nothing is dropped silently and a wrongly rejected lead can still be found.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import escape
from sqlalchemy import select

from core.db import db, savepoint
from core.models import InboxItem, LeadForm, Pipeline, utcnow
from core.services.platform import audit
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean, flag, optional_int
from core.services.users import throttle
from core.services.work import inbox

HONEYPOT = "website"  # a field people never see (hidden by CSS) and bots fill in
STARTED = "_started"
FIELD_KINDS = ("text", "phone", "email", "textarea")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
MAX_VALUE = 5000
START_MAX_AGE = 2 * 3600  # seconds a shown form stays good to post
_STANDARD = (("name", lazy_pgettext("person", "Name"), "text", True), ("phone", _l("Phone"), "phone", True),
             ("email", _l("Email"), "email", False), ("message", _l("Message"), "textarea", False))


def standard_fields() -> list[dict[str, Any]]:
    """The fields a new form starts with, labelled in the language of whoever creates it (the labels are then
    the form's own text, shown to visitors as saved)."""
    return [{"name": name, "label": str(label), "kind": kind, "required": required}
            for name, label, kind, required in _STANDARD]


@dataclass(frozen=True)
class Outcome:
    """What became of a post: the stored item (``None`` when the rate limit refused it and nothing was stored)."""

    item: InboxItem | None
    created: bool
    rate_limited: bool = False


def by_key(key: str) -> LeadForm | None:
    if not key or len(key) > 64:
        return None
    form = db.session.scalar(select(LeadForm).where(LeadForm.key == key))
    return form if form is not None and form.active else None


def _lines(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").splitlines()
    return [clean(str(v), 200) for v in items if str(v).strip()]


def _origins(value: Any, errors: dict[str, Any]) -> list[str]:
    origins = []
    for line in _lines(value):
        parts = urlsplit(line.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            errors["allowed_origins"] = _l("Give each site as https://example.com, one per line.")
            continue
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def _fields(value: Any, errors: dict[str, Any]) -> list[dict[str, Any]]:
    rows = value if isinstance(value, list) else []
    result, seen = [], set()
    for index, row in enumerate(rows):
        name = re.sub(r"[^a-z0-9_]", "", str(row.get("name") or "").lower())[:40]
        label = clean(str(row.get("label") or ""), 120)
        if not name and not label:
            continue
        kind = str(row.get("kind") or "text")
        if not name or name in seen or name in (HONEYPOT, STARTED) or kind not in FIELD_KINDS or not label:
            errors[f"fields.{index}"] = _l("Each field needs a unique name (latin letters, digits, _), a label "
                                           "and a kind.")
            continue
        seen.add(name)
        result.append({"name": name, "label": label, "kind": kind, "required": bool(row.get("required"))})
    if not any(f["kind"] in ("phone", "email") for f in result):
        errors["fields"] = _l("Add a phone or an email field: a lead needs a way to be reached.")
    return result


def save(actor: Actor, form: LeadForm | None, values: dict[str, Any]) -> LeadForm:
    require(actor.user, "edit", "inbox_settings")
    with savepoint():  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = form or LeadForm(key=secrets.token_urlsafe(18))
        target.name = clean(str(values.get("name") or ""), 120)
        if not target.name:
            errors["name"] = _l("Name the form, such as 'Site: request a call'.")
        target.fields = _fields(values.get("fields") or [], errors)
        pipeline_id = values.get("pipeline_id")
        target.pipeline_id = None
        if pipeline_id not in (None, ""):
            pipeline = db.session.get(Pipeline, optional_int(pipeline_id) or 0)
            if pipeline is None:
                errors["pipeline_id"] = _l("Choose a pipeline.")
            else:
                target.pipeline_id = pipeline.id
        target.source = clean(str(values.get("source") or ""), 120)
        target.allowed_origins = _origins(values.get("allowed_origins"), errors)
        target.stop_phrases = _lines(values.get("stop_phrases"))
        target.banned_names = _lines(values.get("banned_names"))
        for name, low, high, message in (
                ("min_fill_seconds", 0, 600, _l("Wait from 0 to 600 seconds.")),
                ("rate_limit_per_hour", 1, 10000, _l("Allow from 1 to 10000 posts per hour from one address."))):
            try:
                number = int(values.get(name, getattr(target, name) or low))
                if not low <= number <= high:
                    raise ValueError
                setattr(target, name, number)
            except (TypeError, ValueError):
                errors[name] = message
        target.success_message = clean(str(values.get("success_message") or ""), 300)
        target.active = flag(values.get("active"))
        if errors:
            raise InvalidInput(errors)
        if form is None:
            db.session.add(target)
        db.session.flush()
        audit.record(actor, "lead_form.saved", "inbox_settings", target.id, {"name": target.name})
    return target


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="mayak.lead-form.started")


def start_token(form: LeadForm) -> str:
    """Signed "the form was shown now" token the page puts in a hidden field (JSON clients fetch one from
    ``GET /f/<key>`` with ``Accept: application/json``): bound to this form, good for :data:`START_MAX_AGE`
    seconds and for one post, so a bot cannot take one token and replay it for a day."""
    return _serializer().dumps({"form": form.id, "nonce": secrets.token_urlsafe(12)})


def _read_start(form_id: int, token: str) -> tuple[str, float] | None:
    """``(nonce, seconds since the form was shown)`` of a good token for form ``form_id``, else ``None``."""
    try:
        payload, signed_at = _serializer().loads(token, max_age=START_MAX_AGE, return_timestamp=True)
    except BadSignature:  # forged, for another salt, or expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(payload, dict) or payload.get("form") != form_id or not isinstance(payload.get("nonce"), str):
        return None
    return payload["nonce"], (utcnow() - signed_at).total_seconds()


def reusable_start(form: LeadForm, token: str) -> str:
    """The posted token when it is still good (a post refused for a missing field shows the form again and the
    person's fill time keeps counting; a token is spent only by a post that is stored), else a new one."""
    return token if token and _read_start(form.id, token) is not None else start_token(form)


def _start_key(nonce: str) -> str:
    return f"lead-start:{nonce}"


def submit(form: LeadForm, data: dict[str, Any], *, ip: str | None, idempotency_key: str | None = None) -> Outcome:
    """Take a post to ``form``: required fields are checked first (:class:`InvalidInput` naming each missing field,
    nothing stored), then the rate limit (a refused post stores nothing: ``item`` is ``None``), then the spam
    defences decide between the inbox and a kept rejection. Every kind of post (embedded page, plain HTML form,
    JSON) needs a start token when the form has a minimum fill time."""
    values = {f["name"]: clean(str(data.get(f["name"]) or ""), MAX_VALUE) for f in form.fields}
    errors: dict[str, Any] = {}
    for field in form.fields:
        if field["required"] and not values[field["name"]]:
            errors[field["name"]] = _l("Fill in %(field)s.", field=field["label"])
    if errors:
        raise InvalidInput(errors)
    phone = next((values[f["name"]] for f in form.fields if f["kind"] == "phone" and values[f["name"]]), "")
    email = next((values[f["name"]] for f in form.fields if f["kind"] == "email" and values[f["name"]]), "")
    name = values.get("name", "")
    if email and "@" not in email:
        raise InvalidInput({next(f["name"] for f in form.fields if f["kind"] == "email"):
                            _l("%(email)s is not an email address, such as name@example.com.", email=email)})
    key = inbox.idempotency_key_of(idempotency_key)
    if key is not None:
        content = inbox.submitted_content(name=name, phone=phone, email=email, fields=values)
        del content["subject"], content["body"]  # made from the form's name and its fields: the fields say it all
        earlier = inbox.repeat_of(f"form:{form.id}", key, content)  # KeyReused when the key came with other fields
        if earlier is not None:  # a repeated delivery is answered, not counted
            return Outcome(earlier, False)
    form_id, limit, min_fill = form.id, form.rate_limit_per_hour, form.min_fill_seconds
    # Nothing is written yet: end the read-only transaction so that the counters below, each on a connection of
    # its own, never make a request hold two (40 concurrent posts would starve the pool). The one rollback left in
    # a service: submit() opens the lead form's unit of work (its views call nothing before it that writes).
    db.session.rollback()
    if ip and throttle.hit(f"lead-form:{form_id}:{ip}", timedelta(hours=1)).count > limit:
        return Outcome(None, False, rate_limited=True)
    too_fast = _fill_time_reason(form_id, min_fill, str(data.get(STARTED) or "")) if min_fill else ""
    reason = _spam_reason(form, data, values) or too_fast  # (the form is read again from here on)
    message = "\n".join(f"{f['label']}: {values[f['name']]}" for f in form.fields
                        if f["kind"] == "textarea" and values[f["name"]])
    utm = {k: clean(str(data.get(k) or ""), 200) for k in UTM_KEYS if data.get(k)}
    if form.source and "utm_source" not in utm:
        utm["utm_source"] = form.source
    subject = f"{form.name}: {name}" if name else form.name  # the deal's title: which form, who
    result = inbox.receive(inbox.IncomingItem(
        channel="web_form", source=f"form:{form.id}", external_id=key, name=name, phone=phone, email=email,
        subject=subject, body=message, utm=utm, fields=values, pipeline_id=form.pipeline_id, form_id=form.id, ip=ip,
        rejected_reason=reason))
    return Outcome(result.item, result.created)


def _spam_reason(form: LeadForm, data: dict[str, Any], values: dict[str, str]) -> str:
    if str(data.get(HONEYPOT) or "").strip():
        return "honeypot field filled"
    text = " ".join(values.values()).casefold()
    for phrase in form.stop_phrases:
        if phrase.casefold() in text:
            return f"stop phrase: {phrase}"
    name = values.get("name", "").casefold().strip()
    for banned in form.banned_names:
        if name and banned.casefold() == name:
            return f"banned name: {banned}"
    return ""


def _fill_time_reason(form_id: int, min_fill: int, token: str) -> str:
    if not token:
        return "posted without the form's start token"
    read = _read_start(form_id, token)
    if read is None:
        return "forged or expired start token"
    nonce, elapsed = read
    if throttle.hit(_start_key(nonce), timedelta(seconds=START_MAX_AGE + 60)).count > 1:
        return "start token used before"
    if elapsed < min_fill:
        return f"filled in {elapsed:.1f} s (minimum {min_fill} s)"
    return ""


def snippet(form: LeadForm, base_url: str) -> str:
    """The HTML a site owner pastes into their page."""
    src = f"{base_url.rstrip('/')}/f/{form.key}"
    return (f'<iframe src="{escape(src)}" title="{escape(form.name)}" loading="lazy" '
            'style="width:100%;max-width:32rem;height:30rem;border:0"></iframe>')
