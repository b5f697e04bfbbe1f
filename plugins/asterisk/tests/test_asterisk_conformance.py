"""The telephony conformance kit, on the one webhook Asterisk has: the dialplan's routing lookup.

Asterisk's call events come over the AMI connection, not webhooks, so the kit's deliveries here are lookups; "the
result" a delivery leaves is the answer the dialplan got (the lookup writes nothing else). The kit then checks that
the recorded lookups are read into the right :class:`IncomingCall`, that a wrong or missing token is refused and
kept, and that repeats and any order give the same answers. The call events' own repeat and order properties are
checked on the AMI side (``test_asterisk_app``, ``test_asterisk_events``)."""

from __future__ import annotations

from typing import Any

from asterisk_fake import TOKEN
from asterisk_streams import CLIENT, CLIENT_RAW, LINE_RAW
from flask import Flask
from sqlalchemy import JSON, String, column, select, table

from mayak import Contact, IncomingCall, User, db
from mayak.testing import Recorded, TelephonyConformance, create_user, sample_contact, wait_for_jobs

DELIVERY = table("webhook_delivery", column("plugin", String), column("status", String), column("query", JSON),
                 column("answer", JSON))


def lookup(caller: str, did: str, uniqueid: str, expected: IncomingCall) -> Recorded:
    return Recorded(b"", method="GET", content_type="", query={"caller": caller, "did": did, "uniqueid": uniqueid},
                    expected=[expected])


class TestRoutingLookup(TelephonyConformance):
    plugin = provider_key = "asterisk"
    webhook_path = "route"
    secret = TOKEN
    deliveries = [
        lookup(CLIENT_RAW, LINE_RAW, "1764500000.41",
               IncomingCall(call_id="1764500000.41", from_number=CLIENT_RAW, line_number=LINE_RAW)),
        lookup("+" + CLIENT_RAW, LINE_RAW, "1764500000.42",
               IncomingCall(call_id="1764500000.42", from_number="+" + CLIENT_RAW, line_number=LINE_RAW)),
        lookup("79990000001", LINE_RAW, "1764500000.43",
               IncomingCall(call_id="1764500000.43", from_number="79990000001", line_number=LINE_RAW)),
    ]

    def sign(self, delivery: Recorded, secret: str) -> dict[str, str]:
        return {"X-Mayak-Token": secret}

    def prepare(self, app: Flask) -> None:
        """The caller's manager, with extension 105."""
        with app.app_context():
            if db.session.scalar(select(User.id).where(User.extension == "105")) is not None:
                return
        owner = create_user(app, "owner@example.com", full_name="Ольга Менеджер")
        contact = sample_contact(app, "Анна", phone=CLIENT)
        with app.app_context():
            db.session.get(User, owner.id).extension = "105"
            db.session.get(Contact, contact).owner_id = owner.id
            db.session.commit()

    def state(self, app: Flask) -> Any:
        """The answers the dialplan got, per caller (a lookup writes nothing but its delivery)."""
        wait_for_jobs(app)
        with app.app_context():
            rows = db.session.execute(select(DELIVERY).where(DELIVERY.c.plugin == "asterisk",
                                                             DELIVERY.c.status == "processed")).all()
            return sorted({(row.query["caller"][0], row.answer["body"]) for row in rows})

    def test_the_answers_are_the_managers_extension_or_nothing(self, app: Flask) -> None:
        self.prepare(app)
        self.post_all(app, self.deliveries)
        assert self.state(app) == [("+" + CLIENT_RAW, "105"), (CLIENT_RAW, "105"), ("79990000001", "")]
