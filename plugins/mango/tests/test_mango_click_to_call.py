"""Click-to-call end to end: a manager presses the call button on a client's card, the core places the call
through the plugin (``commands/callback`` on the loopback Mango, our reference as ``command_id``), and Mango's
later notifications, echoing it, land on that same call."""

from __future__ import annotations

from typing import Any

from mango_support import CLIENT, LINE, T0, abonent, call, calls, post_all, recording, summary
from sqlalchemy import select

from mayak import Call, User, db
from mayak.testing import create_user, csrf_token, sample_contact, sign_in, wait_for_jobs

GRANTS = {("contact", "view"): "all", ("call", "view"): "own"}


def place(app, number: str) -> tuple[int, str, Any]:
    """A manager (extension 101) presses "call" on a client's card; returns the call's id and reference, and the
    button's answer (200 while the call goes on, 286, "stop polling", once it has ended)."""
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "anna@example.com"))
    if user_id is None:
        user_id = create_user(app, "anna@example.com", full_name="Анна", grants=GRANTS).id
        with app.app_context():
            db.session.get(User, user_id).extension = "101"
            db.session.commit()
    contact = sample_contact(app, "Ольга", phone=number)
    browser = app.test_client()
    sign_in(browser, "anna@example.com")
    pressed = browser.post("/calls/dial", data={"number": number, "contact_id": str(contact)},
                           headers={"HX-Request": "true", "X-CSRFToken": csrf_token(browser)})
    assert pressed.status_code in (200, 286), pressed.get_data(as_text=True)
    with app.app_context():
        placed = db.session.scalar(select(Call).where(Call.contact_id == contact).order_by(Call.id.desc()))
        assert placed is not None, "the button put the call on record"
        assert (placed.user_id, placed.direction, placed.extension) == (user_id, "out", "101")
        return placed.id, placed.reference, pressed


def test_a_click_to_call_is_matched_by_the_command_id_mango_echoes(app, mango):
    mango.recordings["rec-O1"] = b"ID3" + b"\x01" * 500
    call_id, reference, pressed = place(app, f"+{CLIENT}")
    assert pressed.status_code == 200 and "pick up your phone" in pressed.get_data(as_text=True)
    (path, command), = mango.requests
    assert (path, command) == ("commands/callback", {"command_id": reference, "from": {"extension": "101"},
                                                     "to_number": CLIENT})
    manager_leg, client_leg = "O1-101", "O1-out"
    post_all(app, [
        call("O1", manager_leg, 1, "Appeared", T0, frm={"number": LINE}, to=abonent("101"), command_id=reference),
        call("O1", manager_leg, 2, "Connected", T0 + 4, frm={"number": LINE}, to=abonent("101"),
             command_id=reference),
        call("O1", client_leg, 1, "Appeared", T0 + 5, frm={"extension": "101"}, to={"number": CLIENT},
             command_id=reference),
        call("O1", client_leg, 2, "Connected", T0 + 15, frm={"extension": "101"}, to={"number": CLIENT},
             command_id=reference),
        call("O1", client_leg, 3, "Disconnected", T0 + 75, frm={"extension": "101"}, to={"number": CLIENT},
             reason=1120, command_id=reference),
        call("O1", manager_leg, 3, "Disconnected", T0 + 75, frm={"number": LINE}, to=abonent("101"), reason=1110,
             command_id=reference),
        summary("O1", direction=2, create=T0, talk=T0 + 15, end=T0 + 75, reason=1120, frm={"extension": "101"},
                to={"number": CLIENT}),
        recording("O1", client_leg, "rec-O1", T0 + 76),
    ])
    wait_for_jobs(app)  # the recording's download, from the loopback Mango
    (found,) = calls(app)
    assert found["external_id"] == "O1", "the call we placed now carries Mango's name for it"
    assert (found["direction"], found["state"], found["outcome"], found["reference"]) == ("out", "ended", "answered",
                                                                                        reference)
    assert (found["client_number"], found["extension"], found["talk_seconds"]) == (f"+{CLIENT}", "101", 60)
    assert found["recording_state"] == "ready"
    with app.app_context():
        assert db.session.get(Call, call_id).external_id == "O1"


def test_a_click_to_call_mango_could_not_start_ends_with_why(app, mango):
    _, reference, _ = place(app, "+79035550199")
    post_all(app, [("result/callback", {"command_id": reference, "result": 1121})])
    (found,) = calls(app)
    assert (found["state"], found["outcome"], found["reason"]) == ("ended", "busy", "1121 busy")


def test_a_click_to_call_mango_refuses_at_once_says_why_in_the_users_words(app, mango):
    mango.callback_results["79035550198"] = 2240
    call_id, _, pressed = place(app, "+79035550198")
    shown = pressed.get_data(as_text=True)
    assert pressed.status_code == 286 and "2240" in shown and "money" in shown, "the button says why, and stops"
    with app.app_context():
        refused = db.session.get(Call, call_id)
        assert (refused.state, refused.outcome) == ("ended", "failed")
        assert "2240" in refused.error and "money" in refused.error
