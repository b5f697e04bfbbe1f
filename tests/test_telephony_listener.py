"""``mayak telephony listen`` against the Asterisk plugin and a manager interface on loopback speaking AMI (issue 13,
item 4): the AMI server killed and restarted mid-call, the listener connects again by itself and the call comes out
whole; started twice, one listens."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import db
from core.models import Call, User
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.telephony import listening

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "asterisk" / "tests"))
from asterisk_fake import SECRET, fake_ami
from asterisk_streams import CLIENT_RAW, INBOUND_ANSWERED

from plugins.asterisk.provider import forget_calls_in_progress


def _events(stream: str) -> list[str]:
    return [part + "\n" for part in stream.strip("\n").split("\n\n")]


def _wait(condition, seconds: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def ami():  # type: ignore[no-untyped-def]
    forget_calls_in_progress()
    with fake_ami() as server:
        server.close_after_stream = False
        yield server


def _pbx_app(make_app, ami):  # type: ignore[no-untyped-def]
    return make_app(plugins={"asterisk": {"host": "127.0.0.1", "port": ami.port, "username": "mayak",
                                          "secret": {"env": "LISTENER_TEST_AMI_SECRET"}, "keepalive": 1}},
                    LISTENER_TEST_AMI_SECRET=SECRET, MAYAK_FETCH_ALLOW="127.0.0.1", MAYAK_PHONE_REGION="RU")


def test_the_listener_rides_out_an_asterisk_restart_mid_call(app, admin, make_app, ami, monkeypatch):
    pbx_app = _pbx_app(make_app, ami)
    with pbx_app.app_context():
        admin = db.session.scalar(select(User).where(User.is_admin.is_(True)))
        boss = create_manager(pbx_app)
        contacts.save(Actor(admin), None, {"first_name": "Ольга", "owner_id": boss, "phones": [{"raw": CLIENT_RAW}]})
        db.session.commit()
    monkeypatch.setattr(listening, "FIRST_PAUSE", 0.2)
    stopping = threading.Event()

    def listen() -> None:
        with pbx_app.app_context():
            listening.run("asterisk", stopping, holder="test-host")

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert ami.logged_in.wait(10), "the listener never logged in"
        events = _events(INBOUND_ANSWERED)
        half = next(n for n, e in enumerate(events) if "DialEnd" in e)
        ami.broadcast("\n".join(events[:half]))  # the client calls; 101 rings
        assert _wait(lambda: _call(pbx_app) is not None and _call(pbx_app).state == "ringing")
        ami.logged_in.clear()
        ami.drop()  # Asterisk restarts mid-call
        assert ami.logged_in.wait(10), "the listener did not connect again after the restart"
        ami.broadcast("\n".join(events[half:]))  # 101 answers, they talk, the call ends
        assert _wait(lambda: _call(pbx_app).state == "ended")
        call = _call(pbx_app)
        assert (call.outcome, call.extension, call.user_id, call.talk_seconds) == ("answered", "101", boss, 60)
        with pbx_app.app_context():
            assert db.session.scalar(select(db.func.count(Call.id))) == 1, "one call, before and after the restart"
    finally:
        stopping.set()
        listener.join(15)
    assert not listener.is_alive()


def _call(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        call = db.session.scalar(select(Call).order_by(Call.id).limit(1))
        if call is not None:
            db.session.expunge(call)
        return call


def create_manager(app) -> int:  # type: ignore[no-untyped-def]
    from core.testing.fixtures import create_user

    user = create_user(app, "olga.manager@example.com", full_name="Менеджер Сто Один")
    db.session.get(User, user.id).extension = "101"
    return user.id
