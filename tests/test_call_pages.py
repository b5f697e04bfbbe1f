"""Telephony in the web UI (issue 13, item 2): the call button and its status, the caller's card as a toast with
the call note, the call log with its figures, the colleague directory, extensions in the user form, the PBX's
extensions synchronised, and the listener that holds one lease however many are started."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Activity, Call, Lease, Task, User, utcnow
from core.plugins.providers import CallDirection, CallEvent, CallState
from core.services.clients import contacts
from core.services.platform import leases
from core.services.platform.context import Actor
from core.services.telephony import calls, extensions, listening
from core.testing.fixtures import create_user, csrf_token, post_form, sign_in
from tests.plugins import telecom

SALES = {**{(e, a): "own" for e in ("contact", "company", "deal", "task") for a in ("view", "create", "edit")},
         ("call", "view"): "own", ("inbox", "view"): "own"}
CLIENT = "+79161234567"


@pytest.fixture
def pbx_app(app, make_app):
    telecom.PLACED.clear()
    return make_app(extra_plugins=[("telecom", telecom)])


def _person(app, email: str, extension: str | None, **kwargs) -> User:
    user = create_user(app, email, grants=SALES, **kwargs)
    with app.app_context(), unit_of_work():
        db.session.get(User, user.id).extension = extension
    return user


def _client_of(app, owner_id: int, phone: str = CLIENT, name: str = "Ольга") -> int:
    with app.app_context(), unit_of_work():
        admin = Actor(user=db.session.scalar(select(User).where(User.is_admin.is_(True)).limit(1)))
        return contacts.save(admin, None, {"first_name": name, "last_name": "Звонкова", "owner_id": owner_id,
                                           "phones": [{"raw": phone}]}).id


def _browser(app, user: User):
    client = app.test_client()
    sign_in(client, user.email)
    return client


def _htmx(client) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": csrf_token(client)}


def _ring(app, call_id: str, extension: str, *states: CallState, number: str = CLIENT) -> int:
    at = utcnow()
    with app.app_context(), unit_of_work():
        touched = calls.record_events("fakepbx", [
            CallEvent(call_id=call_id, state=state, direction=CallDirection.INBOUND, from_number=number,
                      to_number="+74951112233", extension=extension, occurred_at=at + timedelta(seconds=n))
            for n, state in enumerate(states)])
        return touched[0].id


def test_the_call_button_rings_my_phone_then_the_client_and_says_what_happened(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101")
    contact_id = _client_of(pbx_app, anna.id)
    client = _browser(pbx_app, anna)
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert 'hx-post="/calls/dial"' in card and "call-status" in card
    answer = client.post("/calls/dial", data={"number": CLIENT, "contact_id": contact_id}, headers=_htmx(client))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "pick up your phone" in answer.get_data(as_text=True)
    (placed,) = telecom.PLACED
    assert (placed.to, placed.extension, placed.contact_id) == (CLIENT, "101", contact_id)
    with pbx_app.app_context():
        call = db.session.scalar(select(Call))
        assert (call.external_id, call.reference, call.direction, call.user_id) == ("pbx-1", placed.reference,
                                                                                    "out", anna.id)
    # the PBX reports the call under its own id: the same call is answered, then ends; the status follows it
    with pbx_app.app_context(), unit_of_work():
        now = utcnow()
        calls.record_events("fakepbx", [
            CallEvent(call_id="pbx-1", state=CallState.ANSWERED, direction=CallDirection.OUTBOUND, to_number=CLIENT,
                      extension="101", occurred_at=now),
            CallEvent(call_id="pbx-1", state=CallState.ENDED, direction=CallDirection.OUTBOUND, to_number=CLIENT,
                      occurred_at=now + timedelta(seconds=75), duration=75)])
    status = client.get(f"/calls/{call.id}/status", headers={"HX-Request": "true"})
    assert status.status_code == 286, "a finished call stops the polling"
    assert "1 min 15 s" in status.get_data(as_text=True)
    with pbx_app.app_context():
        assert db.session.scalar(select(Call.id).where(Call.id != call.id)) is None, "one call, not two"
        entry = db.session.scalar(select(Activity).where(Activity.kind == "call", Activity.contact_id == contact_id))
        assert entry.data["direction"] == "out" and entry.data["duration"] == 75


def test_the_call_button_says_why_a_call_cannot_be_placed(pbx_app, admin):
    nobody = _person(pbx_app, "noext@example.com", None)
    anna = _person(pbx_app, "anna@example.com", "101")
    contact_id = _client_of(pbx_app, anna.id)
    plain = _browser(pbx_app, nobody)
    assert "/calls/dial" not in plain.get(f"/contacts/{contact_id}").get_data(as_text=True), \
        "no extension: no button"
    refused = plain.post("/calls/dial", data={"number": CLIENT}, headers=_htmx(plain))
    assert refused.status_code == 200 and "extension is not set" in refused.get_data(as_text=True)
    client = _browser(pbx_app, anna)
    for number, words in (("12", "not a phone number"), ("+7 999 000-00-00", "not enough money")):
        answer = client.post("/calls/dial", data={"number": number}, headers=_htmx(client))
        assert answer.status_code in (200, 286) and words in answer.get_data(as_text=True), number
    with pbx_app.app_context():
        refused_call = db.session.scalar(select(Call).where(Call.client_number == "+79990000000"))
        assert (refused_call.state, refused_call.outcome) == ("ended", "failed"), "the refusal is on record"
    for bad in ({"number": CLIENT, "contact_id": "abc"}, {"number": CLIENT, "contact_id": "99999999999"}):
        assert client.post("/calls/dial", data=bad, headers=_htmx(client)).status_code in (400, 404)


def test_the_callers_card_pops_up_for_the_ringing_extension_and_the_note_lands_on_the_call(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101")
    boris = _person(pbx_app, "boris@example.com", "102")
    contact_id = _client_of(pbx_app, anna.id)
    anna_client, boris_client = _browser(pbx_app, anna), _browser(pbx_app, boris)
    page = anna_client.get("/").get_data(as_text=True)
    assert 'id="call-toasts"' in page and 'hx-get="/calls/live"' in page
    quiet = anna_client.get("/calls/live?v=-", headers={"HX-Request": "true"})
    assert quiet.status_code == 204, "nothing rings: nothing to redraw"
    call_id = _ring(pbx_app, "in-1", "101", CallState.RINGING)
    toast = anna_client.get("/calls/live?v=-", headers={"HX-Request": "true"})
    body = toast.get_data(as_text=True)
    assert toast.status_code == 200 and "Ольга Звонкова" in body and f"/contacts/{contact_id}" in body
    assert "Incoming call" in body and "call-note" not in body, "no note form before the call is answered"
    version = body.split('name="v" value="', 1)[1].split('"', 1)[0]
    assert anna_client.get(f"/calls/live?v={version}", headers={"HX-Request": "true"}).status_code == 204
    assert boris_client.get("/calls/live?v=-", headers={"HX-Request": "true"}).status_code == 204, \
        "another manager's phone is not ringing"
    _ring(pbx_app, "in-1", "101", CallState.ANSWERED)
    talking = anna_client.get(f"/calls/live?v={version}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'id="call-note-{call_id}"' in talking and "hx-preserve" in talking
    refused = anna_client.post(f"/calls/{call_id}/note", data={"note": " ", "outcome": ""}, headers=_htmx(anna_client))
    assert refused.status_code == 422 and "Write what you agreed on" in refused.get_data(as_text=True)
    assert boris_client.post(f"/calls/{call_id}/note", data={"note": "чужое"},
                             headers=_htmx(boris_client)).status_code == 404
    saved = anna_client.post(f"/calls/{call_id}/note", data={"note": "Договорились на вторник", "outcome": "agreed"},
                             headers=_htmx(anna_client))
    assert saved.status_code == 200 and 'hx-swap-oob="innerHTML"' in saved.get_data(as_text=True)
    with pbx_app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.note, call.note_outcome, call.toast_open) == ("Договорились на вторник", "agreed", False)
        entry = db.session.scalar(select(Activity).where(Activity.kind == "call", Activity.contact_id == contact_id))
        assert entry.body == "Договорились на вторник" and entry.data["note_outcome"] == "agreed"
    card = anna_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "Договорились на вторник" in card and "Agreed on the next step" in card


def test_a_new_number_offers_the_contact_and_an_unanswered_call_takes_its_toast_away(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101")
    client = _browser(pbx_app, anna)
    call_id = _ring(pbx_app, "new-1", "101", CallState.RINGING)
    body = client.get("/calls/live?v=-", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "New client" in body and "/contacts/new?phone=%2B79161234567" in body
    dismissed = client.post(f"/calls/{call_id}/dismiss", headers=_htmx(client))
    assert dismissed.status_code == 200 and f"call-toast-{call_id}" not in dismissed.get_data(as_text=True)
    second = _ring(pbx_app, "new-2", "101", CallState.RINGING)
    assert f"call-toast-{second}" in client.get("/calls/live?v=-", headers={"HX-Request": "true"}).get_data(
        as_text=True)
    _ring(pbx_app, "new-2", "101", CallState.MISSED)
    assert client.get("/calls/live?v=-", headers={"HX-Request": "true"}).status_code == 204


def test_the_call_log_puts_missed_calls_first_and_counts_each_managers_calls(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101", full_name="Анна Первая")
    boris = _person(pbx_app, "boris@example.com", "102", full_name="Борис Второй")
    _client_of(pbx_app, anna.id)
    _ring(pbx_app, "a1", "101", CallState.RINGING, CallState.ANSWERED, CallState.ENDED)
    _ring(pbx_app, "a2", "101", CallState.RINGING, CallState.MISSED)
    _ring(pbx_app, "b1", "102", CallState.RINGING, CallState.ANSWERED, CallState.ENDED, number="+79035550101")
    boss = _browser(pbx_app, admin)
    page = boss.get("/calls/").get_data(as_text=True)
    missed_section = page.split('id="to-call-back"', 1)[1].split("</section>", 1)[0]
    assert "Ольга Звонкова" in missed_section and "Call-back task" in missed_section
    anna_row = page.split(f'id="figures-{anna.id}"', 1)[1].split("</tr>", 1)[0]
    assert [c.split(">")[-1] for c in anna_row.split("</td>")[1:5]] == ["2", "2", "0", "1"]
    assert "50 %" in anna_row
    assert boss.get("/calls/?outcome=missed").get_data(as_text=True).count('class="call-missed"') == 1
    for bad in ("/calls/?outcome=lost", "/calls/?manager=x", "/calls/?from=32.13.2025", "/calls/?before=-5"):
        assert boss.get(bad).status_code == 400, bad
    # a salesperson sees their own calls only, and nobody's figures but theirs
    own = _browser(pbx_app, boris).get("/calls/").get_data(as_text=True)
    assert "Ольга Звонкова" not in own and f'id="figures-{anna.id}"' not in own and f'id="figures-{boris.id}"' in own
    with pbx_app.app_context():
        assert db.session.scalar(select(Task.title)).startswith("Call back: Ольга")


def test_the_call_log_pages_by_id(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101")
    for n in range(53):
        _ring(pbx_app, f"p{n}", "101", CallState.RINGING, CallState.ANSWERED, CallState.ENDED)
    client = _browser(pbx_app, admin)
    first = client.get("/calls/").get_data(as_text=True)
    assert first.count('<tr id="call-') == 50 and "/calls/?before=" in first
    before = first.split("/calls/?before=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rest = client.get(f"/calls/?before={before}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert rest.count('<tr id="call-') == 3 and "<html" not in rest
    assert anna.id


def test_colleagues_are_listed_with_extensions_and_callable(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", "101", full_name="Анна Первая")
    _person(pbx_app, "boris@example.com", "102", full_name="Борис Второй")
    page = _browser(pbx_app, anna).get("/calls/colleagues").get_data(as_text=True)
    boris_row = page.split("Борис Второй", 1)[1].split("</tr>", 1)[0]
    assert "102" in boris_row and '"number": "102"' in boris_row
    anna_row = page.split("Анна Первая", 1)[1].split("</tr>", 1)[0]
    assert "/calls/dial" not in anna_row, "nobody calls themselves"
    client = _browser(pbx_app, anna)
    assert client.post("/calls/dial", data={"number": "102"}, headers=_htmx(client)).status_code == 200
    assert telecom.PLACED[-1].to == "102"
    with pbx_app.app_context():
        assert db.session.scalar(select(Call.direction)) == "internal"


def test_extensions_are_set_in_the_user_form_once_each_and_taken_from_the_pbx(pbx_app, admin):
    anna = _person(pbx_app, "anna@example.com", None)
    boris = _person(pbx_app, "boris@example.com", None)
    boss = _browser(pbx_app, admin)
    form = boss.get(f"/admin/users/{anna.id}").get_data(as_text=True)
    assert 'name="extension"' in form
    saved = post_form(boss, f"/admin/users/{anna.id}", {"email": anna.email, "full_name": "Анна", "extension": "101"})
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)
    clash = post_form(boss, f"/admin/users/{boris.id}", {"email": boris.email, "extension": "101"})
    assert clash.status_code == 400 and "already belongs to" in clash.get_data(as_text=True)
    bad = post_form(boss, f"/admin/users/{boris.id}", {"email": boris.email, "extension": "10 1; drop"})
    assert bad.status_code == 400 and "up to 20 digits" in bad.get_data(as_text=True)
    with pbx_app.app_context(), unit_of_work():
        result = extensions.sync()
    assert result.assigned == [("102", "boris@example.com")] and result.kept == 1 and result.unmatched == ["150"]
    with pbx_app.app_context():
        assert db.session.get(User, boris.id).extension == "102"


def test_leases_give_a_role_to_one_holder_until_it_expires(app):
    with app.app_context():
        now = utcnow()
        assert leases.take("job", "a", 30, now) and leases.take("job", "a", 30, now + timedelta(seconds=10))
        assert not leases.take("job", "b", 30, now + timedelta(seconds=20))
        assert leases.holder_of("job", now + timedelta(seconds=20)) == "a"
        assert leases.take("job", "b", 30, now + timedelta(seconds=41)), "a holder that stopped renewing loses it"
        assert not leases.take("job", "a", 30, now + timedelta(seconds=42))
        leases.release("job", "b")
        assert leases.take("job", "a", 30)


class _ListeningPbx(telecom.FakePbx):
    """A PBX whose event connection delivers one call, then stays open until told to stop."""

    connections: list[str] = []

    def listen(self, deliver, stopping: threading.Event) -> None:  # type: ignore[no-untyped-def]
        _ListeningPbx.connections.append(threading.current_thread().name)
        deliver([CallEvent(call_id=f"l-{len(self.connections)}", state=CallState.RINGING,
                           direction=CallDirection.INBOUND, from_number=CLIENT, occurred_at=utcnow())])
        stopping.wait(10)


def test_two_listeners_one_active_and_the_other_takes_over(app, make_app, monkeypatch):
    import types

    from core.plugins import hookimpl
    from core.plugins.providers import TELEPHONY, ProviderSpec

    module = types.ModuleType("listening_pbx")
    module.__file__ = __file__
    module.register_providers = hookimpl(lambda: [ProviderSpec(kind=TELEPHONY, key="listening", label="L",
                                                               factory=_ListeningPbx)])
    listening_app = make_app(extra_plugins=[("listening_pbx", module)])
    _ListeningPbx.connections = []
    monkeypatch.setattr(listening, "LEASE_SECONDS", 1.5)
    stops = [threading.Event(), threading.Event()]

    def run(n: int) -> None:
        with listening_app.app_context():
            listening.run("listening", stops[n], holder=f"host-{n}")

    threads = [threading.Thread(target=run, args=(n,), name=f"listener-{n}") for n in (0, 1)]
    for thread in threads:
        thread.start()
    deadline = utcnow() + timedelta(seconds=5)
    while len(_ListeningPbx.connections) < 1 and utcnow() < deadline:
        threading.Event().wait(0.05)
    threading.Event().wait(1.0)
    assert len(_ListeningPbx.connections) == 1, "one listener holds the lease, the other waits"
    first = _ListeningPbx.connections[0]
    stops[int(first[-1])].set()  # the active one stops: the other takes over
    deadline = utcnow() + timedelta(seconds=8)
    while len(_ListeningPbx.connections) < 2 and utcnow() < deadline:
        threading.Event().wait(0.05)
    assert len(_ListeningPbx.connections) == 2 and _ListeningPbx.connections[1] != first
    for stop in stops:
        stop.set()
    for thread in threads:
        thread.join(10)
    with listening_app.app_context():
        assert {c for c in db.session.scalars(select(Call.external_id))} == {"l-1", "l-2"}
        assert db.session.get(Lease, listening.lease_name("listening")).expires_at <= utcnow()


def test_old_cards_are_not_shown_however_long_the_page_was_closed(pbx_app, admin):
    """An answered call's card waits for its note, but not forever: 30 minutes after the call ended, or 4 hours
    after a ring the PBX never ended, it is no longer on the screen (the call itself stays in the log)."""
    anna = _person(pbx_app, "anna@example.com", "101")
    now = utcnow()
    with pbx_app.app_context(), unit_of_work():
        for key, started, ended in (("fresh", now - timedelta(minutes=5), now - timedelta(minutes=2)),
                                    ("ended-long-ago", now - timedelta(minutes=40), now - timedelta(minutes=31)),
                                    ("never-ended", now - timedelta(hours=5), None)):
            db.session.add(Call(provider="fakepbx", external_id=key, direction="in", state="ended" if ended else
                                "ringing", user_id=anna.id, toast_open=True, started_at=started, ended_at=ended,
                                answered_at=started if ended else None, client_number=CLIENT, legs={}))
    body = _browser(pbx_app, anna).get("/calls/live?v=-", headers={"HX-Request": "true"}).get_data(as_text=True)
    with pbx_app.app_context():
        shown = {c.external_id for c in db.session.scalars(select(Call)) if f"call-toast-{c.id}" in body}
    assert shown == {"fresh"}


def test_drawing_more_cards_reads_the_callers_deals_and_companies_once(pbx_app, admin):
    """The callers, their companies and open deals are read in one go for every card; each more card adds only its
    client's last activities."""
    from tests.test_query_budget import counted

    anna = _person(pbx_app, "anna@example.com", "101")
    numbers = ["+79161230001", "+79161230002", "+79161230003"]
    for n, number in enumerate(numbers):
        _client_of(pbx_app, anna.id, phone=number, name=f"Клиент{n}")
    client = _browser(pbx_app, anna)

    def statements_for_cards(count: int) -> int:
        for n in range(count):
            _ring(pbx_app, f"draw-{count}-{n}", "101", CallState.RINGING, number=numbers[n])
        with counted(pbx_app) as statements:
            body = client.get("/calls/live?v=-", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert body.count("call-toast mb-2") == count
        with pbx_app.app_context(), unit_of_work():
            db.session.execute(Call.__table__.update().values(toast_open=False))
        return len(statements)

    one, three = statements_for_cards(1), statements_for_cards(3)
    assert three - one <= 2 * 2, f"{one} statements for one card, {three} for three"
