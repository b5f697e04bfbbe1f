"""The provider against the fake manager interface: ``listen`` turns the event stream into call events and returns
when the connection drops, goes silent, Asterisk shuts down or ``stopping`` is set; ``place_call`` sends a correct
``Originate`` and refuses cleanly; ``list_extensions`` reads the endpoints."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from asterisk_fake import SECRET, FakeAmi, fake_ami
from asterisk_streams import (
    CLIENT,
    CLIENT_RAW,
    DIALLED,
    DIALLED_RAW,
    INBOUND_ANSWERED,
    INBOUND_MISSED,
    INTERNAL,
    originated,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mayak import BAD_CREDENTIALS, BAD_NUMBER, UNAVAILABLE, AllowList, CallEvent, CallRequest, CallState, ProviderError
from plugins.asterisk.ami import Message
from plugins.asterisk.events import Translator
from plugins.asterisk.provider import NO_EXTENSION, AsteriskPbx
from plugins.asterisk.settings_form import Settings


def pbx(ami: FakeAmi, **changes: object) -> AsteriskPbx:
    conf = Settings(host="127.0.0.1", port=ami.port, secret=SECRET, timeout=2.0, keepalive=5.0)
    provider = AsteriskPbx(replace(conf, **changes))
    provider.key = "asterisk"
    provider.allow = AllowList.parse(["127.0.0.1"])  # the fake AMI server listens on loopback
    return provider


class Listener:
    """``listen`` in a thread, as ``mayak telephony listen`` runs it."""

    def __init__(self, provider: AsteriskPbx) -> None:
        self.events: list[CallEvent] = []
        self.batches = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(provider,), daemon=True)
        self.thread.start()

    def _run(self, provider: AsteriskPbx) -> None:
        try:
            provider.listen(self._deliver, self.stopping)
        except BaseException as exc:
            self.error = exc

    def _deliver(self, batch: list[CallEvent]) -> None:
        self.batches += 1
        self.events.extend(batch)

    def returned(self, within: float) -> bool:
        self.thread.join(within)
        return not self.thread.is_alive()


def states(events: list[CallEvent]) -> list[tuple[str, str, str, str | None]]:
    return [(e.call_id, str(e.state), str(e.direction), e.extension) for e in events]


def test_listen_turns_the_stream_into_call_events_and_returns_when_the_pbx_closes(ami: FakeAmi):
    ami.on_login = INBOUND_ANSWERED + INBOUND_MISSED + INTERNAL
    listener = Listener(pbx(ami))
    assert listener.returned(within=5), "the PBX closed the connection: listen returns"
    assert listener.error is None
    assert states(listener.events) == [
        ("1764500000.41", "ringing", "in", None), ("1764500000.41", "ringing", "in", "101"),
        ("1764500000.41", "answered", "in", "101"), ("1764500000.41", "ended", "in", "101"),
        ("1764500000.41", "ended", "in", "101"),
        ("1764500000.51", "ringing", "in", None), ("1764500000.51", "ringing", "in", "101"),
        ("1764500000.51", "missed", "in", "101"),
        ("1764500000.61", "ringing", "internal", "101"), ("1764500000.61", "answered", "internal", "101"),
        ("1764500000.61", "ended", "internal", "101"), ("1764500000.61", "ended", "internal", "101")]
    assert listener.events[0].from_number == "79161234567", "outside an app there is no region: numbers as sent"
    assert [e.duration for e in listener.events if e.call_id == "1764500000.41"][-1] == 60
    assert listener.events[4].recording is None, "no recordings address or folder: no recording is named"
    login = ami.named("Login")[0]
    assert ("Events", "on") in login


def test_listen_returns_when_stopping_is_set(ami: FakeAmi):
    listener = Listener(pbx(ami))
    assert ami.logged_in.wait(3)
    time.sleep(0.2)
    assert not listener.returned(within=0), "a quiet connection is kept"
    began = time.monotonic()
    listener.stopping.set()
    assert listener.returned(within=2) and time.monotonic() - began < 1.0
    assert listener.error is None and listener.events == []


def test_listen_pings_a_silent_pbx_and_gives_up_on_it(ami: FakeAmi):
    ami.silent = True
    listener = Listener(pbx(ami, keepalive=0.3, timeout=0.3))
    assert listener.returned(within=4), "a PBX that answers no Ping is taken for gone"
    assert len(ami.named("Ping")) >= 1 and listener.error is None


def test_listen_returns_when_asterisk_shuts_down(ami: FakeAmi):
    ami.on_login = "Event: Shutdown\nPrivilege: system,all\nShutdown: Cleanly\nRestart: True\n"
    ami.close_after_stream = False
    listener = Listener(pbx(ami))
    assert listener.returned(within=3) and listener.error is None


def test_a_connection_dropped_mid_message_ends_listen_with_what_was_complete(ami: FakeAmi):
    whole = INBOUND_MISSED.encode().replace(b"\n", b"\r\n")
    ami.raw_after_login = whole[:whole.index(b"Event: Hangup")] + b"Event: Hangup\r\nChannel: PJSIP/1"
    listener = Listener(pbx(ami))
    assert listener.returned(within=3) and listener.error is None
    assert [str(e.state) for e in listener.events] == ["ringing", "ringing"]


def test_check_connection_names_a_refused_login(ami: FakeAmi):
    with pytest.raises(ProviderError) as refused:
        pbx(ami, secret="not-the-secret").check_connection()
    assert refused.value.message is BAD_CREDENTIALS


def test_listen_raises_when_it_cannot_log_in_or_connect(ami: FakeAmi):
    provider = pbx(ami, secret="wrong-secret")
    with pytest.raises(ProviderError) as refused:
        provider.listen(lambda batch: None, threading.Event())
    assert refused.value.message is BAD_CREDENTIALS and refused.value.provider_message == "Authentication failed"
    with fake_ami() as gone:
        port = gone.port
    with pytest.raises(ProviderError) as unreachable:
        pbx(ami, port=port).listen(lambda batch: None, threading.Event())
    assert unreachable.value.message is UNAVAILABLE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(st.binary(max_size=2000) | st.sampled_from([
    b"Event: Newchannel\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nChannel: PJSIP/voippro-1\r\n\r\n",
    b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n", b"Event: Cdr\r\nUniqueID: 1.1\r\nBillableSeconds: 99999999999\r\n\r\n",
    b"Event: DialBegin\r\nDestUniqueid: \xff\xfe\r\n\r\n", b"Timestamp: " + b"9" * 5000 + b"\r\n",
    b"\r\n" * 50, b"CallerIDNum: " + b"7" * 20000]), max_size=20))
def test_hostile_streams_end_listen_by_returning_never_by_raising(ami, garbage):
    ami.raw_after_login = b"".join(garbage) or b"\r\n"
    delivered: list[CallEvent] = []
    pbx(ami).listen(delivered.extend, threading.Event())
    assert all(isinstance(e, CallEvent) for e in delivered)


# -- click-to-call -----------------------------------------------------------------------------------------------


def test_place_call_sends_an_originate_and_its_events_carry_the_reference(ami: FakeAmi):
    ami.originate = originated
    ami.close_after_stream = False
    listener = Listener(pbx(ami))
    assert ami.logged_in.wait(3)
    handle = pbx(ami).place_call(CallRequest(to=DIALLED, extension="101", reference="5f1e0c9a77", timeout=25))
    assert (handle.provider, handle.call_id, handle.reference) == ("asterisk", None, "5f1e0c9a77")
    assert handle.raw["Message"] == "Originate successfully queued"
    (sent,) = ami.named("Originate")
    assert sent == [("Action", "Originate"), ("ActionID", "mayak-5f1e0c9a77"), ("Channel", "PJSIP/101"),
                    ("Context", "from-internal"), ("Exten", DIALLED_RAW), ("Priority", "1"),
                    ("CallerID", f'"{DIALLED}" <101>'), ("Timeout", "25000"), ("Async", "true"),
                    ("Variable", "MAYAK_REF=5f1e0c9a77"), ("Variable", "MAYAK_RECORD=1")]
    deadline = time.monotonic() + 5
    while len(listener.events) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    listener.stopping.set()
    assert listener.returned(within=2)
    assert [(str(e.state), e.reference, e.to_number, e.duration) for e in listener.events] == [
        ("ringing", "5f1e0c9a77", DIALLED_RAW, None), ("answered", "5f1e0c9a77", DIALLED_RAW, None),
        ("ended", "5f1e0c9a77", DIALLED_RAW, None), ("ended", "5f1e0c9a77", DIALLED_RAW, 95)]


@pytest.mark.parametrize(("said", "meaning"), [("Permission denied", BAD_CREDENTIALS),
                                                ("Extension does not exist.", BAD_NUMBER)])
def test_place_call_refuses_cleanly_when_asterisk_says_no(ami: FakeAmi, said, meaning):
    ami.originate_error = said
    with pytest.raises(ProviderError) as refused:
        pbx(ami).place_call(CallRequest(to=DIALLED, extension="101", reference="r1"))
    assert refused.value.message is meaning and refused.value.provider_message == said
    assert refused.value.provider == "asterisk"


def test_place_call_refuses_what_it_cannot_dial_before_asking_the_pbx(ami: FakeAmi):
    provider = pbx(ami)
    for to in ("100\r\nAction: Command", "1\r\n00", "not a number", "", "1"):
        with pytest.raises(ProviderError) as refused:
            provider.place_call(CallRequest(to=to, extension="101"))
        assert refused.value.message is BAD_NUMBER, to
    for extension in (None, "", "10 1", "101\r\nAction: Command"):
        with pytest.raises(ProviderError) as refused:
            provider.place_call(CallRequest(to=DIALLED, extension=extension))
        assert refused.value.message is NO_EXTENSION
    assert ami.named("Originate") == [] and ami.named("Login") == []


def test_numbers_are_dialled_as_the_dialplan_wants_them(ami: FakeAmi):
    assert pbx(ami).dial_number("+7 (900) 123-45-67") == "79001234567"
    assert pbx(ami, dial_format="e164").dial_number(DIALLED) == DIALLED
    assert pbx(ami, dial_format="national", dial_prefix="9").dial_number(DIALLED) == "989001234567"
    assert pbx(ami, dial_format="national").dial_number("+14155550100") == "8101" + "4155550100"
    assert pbx(ami, dial_prefix="9").dial_number("102") == "102", "a colleague's extension is dialled as it is"
    ami.originate = None
    pbx(ami, channel="Local/{extension}@from-internal", context="crm-out").place_call(
        CallRequest(to="102", extension="101", reference="r2", record=False))
    sent = dict(ami.named("Originate")[0][:-1])
    assert (sent["Channel"], sent["Context"], sent["Exten"]) == ("Local/101@from-internal", "crm-out", "102")
    assert ami.named("Originate")[0][-1] == ("Variable", "MAYAK_RECORD=0")


# -- extensions ----------------------------------------------------------------------------------------------------


def test_extensions_come_from_the_endpoints_with_their_voicemail_names(ami: FakeAmi):
    ami.lists["PJSIPShowEndpoints"] = [[("ObjectType", "endpoint"), ("ObjectName", name), ("DeviceState", state)]
                                       for name, state in (("102", "Unavailable"), ("101", "Not in use"),
                                                           ("voippro", "Not in use"), ("1001", "Not in use"))]
    ami.lists["VoicemailUsersList"] = [[("VMContext", "default"), ("VoiceMailbox", "101"),
                                        ("Fullname", "Ольга Менеджер"), ("Email", "olga@example.com")],
                                       [("VMContext", "default"), ("VoiceMailbox", "102"), ("Fullname", "Пётр"),
                                        ("Email", "")]]
    found = pbx(ami).list_extensions()
    assert [(e.number, e.name, e.email) for e in found] == [
        ("101", "Ольга Менеджер", "olga@example.com"), ("102", "Пётр", None), ("1001", "", None)]


def test_chan_sip_peers_are_read_when_pjsip_is_not_there(ami: FakeAmi):
    ami.lists["SIPpeers"] = [[("Channeltype", "SIP"), ("ObjectName", "201")], [("ObjectName", "trunk")]]
    assert [e.number for e in pbx(ami).list_extensions()] == ["201"]


def test_a_pbx_without_the_right_to_list_says_so(ami: FakeAmi):
    with pytest.raises(ProviderError) as refused:
        pbx(ami).list_extensions()
    assert "PJSIPShowEndpoints" in refused.value.provider_message


def test_client_number_is_read_into_e164_with_a_region():


    translator = Translator(r"\d{2,5}", region="RU")
    (event,) = translator.feed(Message([("Event", "Newchannel"), ("Channel", "PJSIP/voippro-00000001"),
                                        ("CallerIDNum", "8" + CLIENT_RAW[1:]), ("Uniqueid", "9.1"),
                                        ("Linkedid", "9.1"), ("Exten", "s")]))
    assert (event.from_number, event.line_number, event.state) == (CLIENT, None, CallState.RINGING)
