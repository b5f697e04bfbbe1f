"""The AMI wire format: framing however the bytes are split, hostile input survived, nothing smuggled into what we
send, and a session against the fake manager interface (greeting, login refused and accepted, list actions)."""

from __future__ import annotations

import socket
import threading

import pytest
from asterisk_fake import SECRET, USERNAME, VERSION, FakeAmi
from hypothesis import given, settings
from hypothesis import strategies as st

from mayak import AllowList
from plugins.asterisk.ami import (
    MAX_FIELDS,
    MAX_LINE,
    MAX_VALUE,
    AmiConnection,
    AmiError,
    AmiRefused,
    LoginRefused,
    MessageReader,
    encode,
)

STREAM = (b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/101-00000002\r\n"
          b"ChanVariable: MAYAK_REF=abc\r\nChanVariable: MIXMONITOR_FILENAME=/x/monitor/a.wav\r\n"
          b"Uniqueid: 1764500000.2\r\n\r\n"
          b"Response: Success\r\nActionID: mayak-1\r\nPing: Pong\r\n\r\n")

LOOPBACK = AllowList.parse(["127.0.0.1"])  # the fake AMI server listens on loopback


def test_messages_are_framed_however_the_bytes_are_split():
    whole = MessageReader().feed(STREAM)
    assert [m.event or m.response for m in whole] == ["Newchannel", "Success"]
    first = whole[0]
    assert first.get("channel") == "PJSIP/101-00000002", "keys are looked up without regard to case"
    assert first.variables() == {"MAYAK_REF": "abc", "MIXMONITOR_FILENAME": "/x/monitor/a.wav"}
    assert first.all("ChanVariable") == ["MAYAK_REF=abc", "MIXMONITOR_FILENAME=/x/monitor/a.wav"]
    for size in (1, 2, 3, 7, 64):
        reader = MessageReader()
        pieces = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
        split = [m for piece in pieces for m in reader.feed(piece)]
        assert [m.fields for m in split] == [m.fields for m in whole], size


def test_asterisk_1_8_channel_variables_and_bare_newlines_are_read():
    (message,) = MessageReader().feed(b"Event: Hangup\nChanVariable(SIP/101-0001): MAYAK_REF=r1\n\n")
    assert message.variables() == {"MAYAK_REF": "r1"}


def test_hostile_lines_are_dropped_without_being_kept():
    reader = MessageReader()
    huge = b"Event: Newchannel\r\nCallerIDName: " + b"A" * (10 * MAX_LINE)
    assert reader.feed(huge) == []
    assert len(reader._partial) <= MAX_LINE, "a line without end is not kept in memory"
    found = reader.feed(b"B" * 1000 + b"\r\nChannel: PJSIP/1-1\x00\x07\r\n"
                        b"not a field\r\n: no key\r\nUniqueid: 1.1\r\n\r\n")
    assert len(found) == 1
    assert found[0].fields == (("Event", "Newchannel"), ("Channel", "PJSIP/1-1"), ("Uniqueid", "1.1")), \
        "the overlong line is gone, control characters are removed, lines that are not fields are skipped"
    many = b"".join(b"K%d: v\r\n" % i for i in range(MAX_FIELDS + 50)) + b"\r\n"
    (message,) = reader.feed(many)
    assert len(message.fields) == MAX_FIELDS
    (long_value,) = reader.feed(b"Event: X\r\nData: " + b"x" * (MAX_LINE - 20) + b"\r\n\r\n")
    assert len(long_value.get("Data")) == MAX_VALUE
    (broken,) = reader.feed(b"Event: X\r\nCallerIDName: \xff\xfe\xd0\r\n\r\n")
    assert broken.get("CallerIDName") == "\ufffd\ufffd\ufffd"


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000) | st.sampled_from([b"\r\n", b"\r\n\r\n", b"Event: Hangup\r\n",
                                                                     b"Key: " + b"v" * 9000, b":\r\n", b"\x00"]),
                       max_size=40))
def test_any_bytes_give_messages_and_bounded_memory(chunks):
    reader = MessageReader()
    for chunk in chunks:
        for message in reader.feed(chunk):
            assert 0 < len(message.fields) <= MAX_FIELDS
            assert all(len(v) <= MAX_VALUE and "\n" not in v and "\x00" not in v for _, v in message.fields)
        assert len(reader._partial) <= MAX_LINE


@pytest.mark.parametrize("value", ["100\r\nAction: Command", "x\ny", "nul\x00"])
def test_a_value_cannot_smuggle_a_second_action(value):
    with pytest.raises(ValueError):
        encode("Originate", [("Exten", value)])
    with pytest.raises(ValueError):
        encode("Originate", [("Bad Key", "1")])
    assert encode("Ping", [("ActionID", "a1")]) == b"Action: Ping\r\nActionID: a1\r\n\r\n"


def test_a_session_greets_logs_in_and_lists(ami: FakeAmi):
    ami.lists["PJSIPShowEndpoints"] = [[("ObjectType", "endpoint"), ("ObjectName", name)] for name in ("101", "102")]
    with AmiConnection("127.0.0.1", ami.port, timeout=2, allow=LOOPBACK) as session:
        assert session.open() == VERSION
        session.login(USERNAME, SECRET, events=False)
        assert session.request("Ping").get("Ping") == "Pong"
        items = session.collect("PJSIPShowEndpoints")
        assert [m.get("ObjectName") for m in items] == ["101", "102"]
        with pytest.raises(AmiRefused, match="Invalid/unknown command: SIPpeers"):
            session.request("SIPpeers")
    login = ami.named("Login")[0]
    assert ("Events", "off") in login and ("Username", USERNAME) in login


def test_a_wrong_secret_is_refused(ami: FakeAmi):
    with AmiConnection("127.0.0.1", ami.port, timeout=2, allow=LOOPBACK) as session:
        session.open()
        with pytest.raises(LoginRefused, match="Authentication failed"):
            session.login(USERNAME, "wrong", events=True)


def test_nobody_listening_or_something_else_listening_is_an_ami_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(AmiError, match="cannot connect"):
        AmiConnection("127.0.0.1", free, timeout=1, allow=LOOPBACK).open()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def web_server() -> None:
        peer, _ = server.accept()
        peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        peer.close()

    thread = threading.Thread(target=web_server, daemon=True)
    thread.start()
    try:
        with pytest.raises(AmiError, match="not an Asterisk manager interface"):
            AmiConnection("127.0.0.1", server.getsockname()[1], timeout=1, allow=LOOPBACK).open()
    finally:
        thread.join(2)
        server.close()
