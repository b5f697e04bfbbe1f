"""The plugin as an administrator and an attacker meet it: its settings page (secrets write-only, "Check
connection" against the loopback Mango), its table agreeing with its migration, and hostile bodies on every
endpoint never answered with a 500 nor failing a handler."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mango_support import KEY, SALT, T0, call, notify, signed_form
from sqlalchemy import func, select

from mayak import WebhookDelivery, db
from mayak.testing import post_form

PAGE = "/admin/plugins/mango"
PATHS = ("events/call", "events/summary", "events/recording", "result/callback", "ping")


def test_the_settings_page_never_shows_the_key_or_salt_and_checks_the_connection(admin_client, mango):
    html = admin_client.get(PAGE).get_data(as_text=True)
    assert 'name="api_url"' in html and 'name="route_incoming"' in html
    assert KEY not in html and SALT not in html
    for path in PATHS:
        assert path in html, "the addresses to give Mango are listed"
    mango.users[:] = [{"general": {"name": "Анна", "email": "anna@example.com"}, "telephony": {"extension": "101"}}]
    checked = post_form(admin_client, PAGE + "/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "1 employee has an extension" in checked and KEY not in checked and SALT not in checked
    refused = post_form(admin_client, PAGE, {"api_url": mango.url, "api_key": "newkey", "api_salt": "",
                                             "api_salt-clear": "1"})
    assert refused.status_code == 422 and "newkey" not in refused.get_data(as_text=True)


def test_the_plugins_table_agrees_with_its_migration(app):
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["db", "check"])
    assert checked.exception is None or isinstance(checked.exception, SystemExit), checked.output
    # only this plugin's tables: in a run beside Mayak's own tests, other plugins' models are loaded too (and may
    # disagree with a database migrated without them: ``db check`` then fails, but not over ours)
    assert [line for line in checked.output.splitlines() if "mango_" in line] == [], checked.output
    if checked.exit_code == 0:
        assert "models and migrations agree" in checked.output
    current = runner.invoke(args=["db", "current"])
    assert current.exit_code == 0, current.output
    assert "mango: mango_0001" in current.output.splitlines(), current.output


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                         st.text(max_size=30), st.sampled_from(["", "\x00", "sip:1@x", "79161234567", "101",
                                                               "Appeared", "Connected", "Disconnected", "OnHold",
                                                               "Completed", "ivr", "abonent", "9" * 300]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
fields = st.sampled_from(["entry_id", "call_id", "seq", "timestamp", "call_state", "location", "from", "to",
                          "disconnect_reason", "command_id", "call_direction", "create_time", "talk_time",
                          "end_time", "entry_result", "recording_id", "recording_state", "completion_code",
                          "result", "extension", "number", "line_number"])
mango_like = st.dictionaries(fields, json_values, max_size=10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), payload=st.one_of(mango_like, json_values), signed=st.booleans(),
       raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_hostile_bodies_are_refused_never_a_500(app, path, payload, signed, raw):
    client = app.test_client()
    if raw is not None:
        response = client.post(f"/webhooks/mango/{path}", data=raw, content_type="application/x-www-form-urlencoded")
        assert response.status_code in (400, 403), response.status_code
        return
    text = json.dumps(payload, ensure_ascii=False)
    response = notify(app, path, text) if signed else client.post(
        f"/webhooks/mango/{path}", data=signed_form(text, salt="not-ours"),
        content_type="application/x-www-form-urlencoded")
    assert response.status_code in ((200, 400) if signed else (403,)), (response.status_code, text)
    with app.app_context():
        failed = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                   .where(WebhookDelivery.status == "failed"))
        assert failed == 0, "a handler failed on a signed body its delivery id accepted"


def test_signed_but_strange_calls_are_recorded_without_failing(app):
    strange = [
        call("X1", "L1", 1, "Appeared", T0, frm={"number": "9" * 15, "extension": "+"}, to={"number": []}),
        call("X1", "L1", 2, "Connected", T0 + 1, to={"extension": "abonent-101", "line_number": "x"}),
        call("X1", "L2", 10**9, "Disconnected", 1, reason=-5),
        ("events/summary", {"entry_id": "X1", "end_time": T0 + 5, "talk_time": T0 + 99, "create_time": T0 + 50,
                            "call_direction": 7, "entry_result": "1"}),
        ("events/recording", {"recording_id": "R" * 200, "recording_state": "Completed", "entry_id": "X2"}),
        ("result/callback", {"command_id": "c" * 64, "result": "2240"}),
    ]
    for path, payload in strange:
        assert notify(app, path, payload).status_code == 200, (path, payload)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == "failed")) == 0
