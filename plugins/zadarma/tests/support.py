"""Helpers of the plugin's app tests: Zadarma's notifications as it posts them, and the CRM records they leave.

The tests sit inside the plugin, so they import only the public API (``mayak``, ``mayak.testing``) like the plugin
itself; the core's own tables (calls, webhook deliveries) are read through the shared metadata, as plain rows."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mayak import Activity, Base, Contact, InboxItem, Task, User, db
from mayak.testing import create_user, sample_contact, wait_for_jobs
from plugins.zadarma.tests.zadarma_fake import SIGNED, notification_signature, now_utc, zd_time

URL = "/webhooks/zadarma/calls"
CLIENT_RAW, CLIENT = "79001234567", "+79001234567"
LINE_RAW, LINE = "74951112233", "+74951112233"
SIGNED_EVENTS = tuple(SIGNED)


def notification(event: str, pbx_call_id: str = "in_ae6b03b3b0765d127ec0b739", *, start: datetime | None = None,
                 **fields: str) -> dict[str, str]:
    """A NOTIFY_* with the fields Zadarma sends for ``event`` (a client calling our line, or extension 101
    dialling the client), ``call_start`` in the cabinet's zone."""
    body = {"event": event, "call_start": zd_time(start or now_utc()), "pbx_call_id": pbx_call_id}
    if event in ("NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_END", "NOTIFY_IVR"):
        body |= {"caller_id": CLIENT_RAW, "called_did": LINE_RAW}
    elif event == "NOTIFY_ANSWER":
        body |= {"caller_id": CLIENT_RAW, "destination": LINE_RAW}
    elif event in ("NOTIFY_OUT_START", "NOTIFY_OUT_END"):
        body |= {"internal": "101", "destination": CLIENT_RAW}
    elif event == "NOTIFY_RECORD":
        body = {"event": event, "pbx_call_id": pbx_call_id}
    return body | fields


def inbound_call(pbx_call_id: str = "in_ae6b03b3b0765d127ec0b739", *, start: datetime | None = None,
                 recording: str = "1704110400.123456") -> list[dict[str, str]]:
    """Start → extension 101 rings → 101 answers → the end after 42 s of talk, recorded."""
    start = start or now_utc() - timedelta(seconds=70)
    return [notification("NOTIFY_START", pbx_call_id, start=start),
            notification("NOTIFY_INTERNAL", pbx_call_id, start=start, internal="101"),
            notification("NOTIFY_ANSWER", pbx_call_id, start=start, internal="101"),
            notification("NOTIFY_END", pbx_call_id, start=start, internal="101", duration="42",
                         disposition="answered", status_code="16", is_recorded="1", call_id_with_rec=recording)]


def missed_call(pbx_call_id: str = "in_missed01", *, start: datetime | None = None) -> list[dict[str, str]]:
    start = start or now_utc() - timedelta(seconds=40)
    return [notification("NOTIFY_START", pbx_call_id, start=start),
            notification("NOTIFY_INTERNAL", pbx_call_id, start=start, internal="101"),
            notification("NOTIFY_END", pbx_call_id, start=start, internal="", duration="0",
                         disposition="no answer", status_code="19", is_recorded="0", call_id_with_rec="")]


def multipart(fields: dict[str, str], boundary: str = "zadarma-7f3a") -> bytes:
    lines = []
    for name, value in fields.items():
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    return "\r\n".join([*lines, f"--{boundary}--", ""]).encode()


def post(client: FlaskClient, fields: dict[str, str], *, secret: str | None = None, signed: bool = True,
         as_multipart: bool = False, header_boundary: str | None = None) -> Any:
    """POST one notification as Zadarma does: form-encoded (or multipart), signed in ``Signature``."""
    headers = {"Signature": notification_signature(fields, *(secret,) if secret else ())} if signed else {}
    if as_multipart:
        body = multipart(fields)
        content_type = f"multipart/form-data; boundary={header_boundary or 'zadarma-7f3a'}"
    else:
        body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return client.post(URL, data=body, content_type=content_type, headers=headers)


def post_all(client: FlaskClient, deliveries: list[dict[str, str]], **kwargs: Any) -> list[Any]:
    """Post each notification and wait until its handling is over (:func:`settle`)."""
    answers = [post(client, fields, **kwargs) for fields in deliveries]
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
    settle(client.application)
    return answers


def settle(app: Flask, timeout: float = 20.0) -> None:
    """Wait until no notification is being handled and no job they queued is waiting. An inline handler that
    misses its deadline on a loaded machine answers with the fallback and commits later, in its own thread: its
    job is queued only then, so one wait for the jobs is not enough."""
    deadline = time.monotonic() + timeout
    while True:
        wait_for_jobs(app)
        busy = deliveries(app, status="running") or [j for j in rows(app, "job_record")
                                                      if j.status in ("queued", "running")]
        if not busy:
            return
        assert time.monotonic() < deadline, f"still busy after {timeout} s: {busy}"
        time.sleep(0.05)


# --- the CRM's side ---------------------------------------------------------------------------------------------


def manager(app: Flask, email: str = "olga.m@example.com", extension: str = "101") -> int:
    """A manager with a phone extension who may see their own clients and calls."""
    user = create_user(app, email, full_name="Ольга Менеджер",
                       grants={("contact", "view"): "own", ("call", "view"): "own"})
    with app.app_context():
        db.session.get(User, user.id).extension = extension
        db.session.commit()
    return int(user.id)


def client_of(app: Flask, owner_id: int | None, phone: str = CLIENT) -> int:
    """A contact, Анна Звонкова, with ``phone``, owned by ``owner_id``."""
    contact_id = sample_contact(app, "Анна", phone=phone)
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        contact.last_name, contact.owner_id = "Звонкова", owner_id
        db.session.commit()
    return contact_id


def rows(app: Flask, table: str, **where: Any) -> list[SimpleNamespace]:
    """The rows of one of the core's tables (``call``, ``webhook_delivery``...), oldest first, their columns as
    attributes."""
    found = Base.metadata.tables[table]
    stmt = select(found).order_by(found.c.id)
    for name, value in where.items():
        stmt = stmt.where(found.c[name] == value)
    with app.app_context():
        return [SimpleNamespace(**row) for row in db.session.execute(stmt).mappings()]


def calls(app: Flask) -> list[SimpleNamespace]:
    return rows(app, "call")


def deliveries(app: Flask, **where: Any) -> list[SimpleNamespace]:
    return rows(app, "webhook_delivery", plugin="zadarma", **where)


def tasks(app: Flask) -> list[Task]:
    with app.app_context():
        found = list(db.session.scalars(select(Task).order_by(Task.id)))
        for task in found:
            db.session.expunge(task)
        return found


def counts(app: Flask) -> dict[str, int]:
    """How many rows of what a call leaves behind."""
    with app.app_context():
        found = {model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
                 for model in (Activity, Task, InboxItem)}
    return {**found, "call": len(calls(app)), "outbox_event": len(rows(app, "outbox_event"))}
