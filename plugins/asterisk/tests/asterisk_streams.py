"""AMI event streams as Asterisk 18 sends them to a manager user with ``read = call,cdr``, ``timestampevents = yes``
and ``channelvars = MAYAK_REF,MIXMONITOR_FILENAME``: an incoming call answered by 101, one nobody answered (a ring
group of 101 and 102), 102 calling 101, our click-to-call (``Originate``) answered and not answered, 101 calling the
client from the desk phone, and an incoming call 101 transfers to 103 (blind, and attended).

``Timestamp: +N`` is N seconds after the stream starts (the fake server writes the real time). The trunk is a
PJSIP endpoint named ``voippro``; phones are endpoints named by their extension, in context ``from-internal``."""

from __future__ import annotations

CLIENT_RAW, CLIENT = "79161234567", "+79161234567"
LINE_RAW, LINE = "74951112233", "+74951112233"
DIALLED_RAW, DIALLED = "79001234567", "+79001234567"
RECORDING = "2026/11/20/in-74951112233-79161234567-20261120-130000-1764500000.41.wav"


def _channel(prefix: str, channel: str, state: str, caller: str, context: str, exten: str, uniqueid: str,
             linkedid: str, *, connected: str = "<unknown>", priority: str = "1", variables: str = "") -> str:
    states = {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up"}
    lines = [f"{prefix}Channel: {channel}", f"{prefix}ChannelState: {state}",
             f"{prefix}ChannelStateDesc: {states[state]}", f"{prefix}CallerIDNum: {caller}",
             f"{prefix}CallerIDName: <unknown>", f"{prefix}ConnectedLineNum: {connected}",
             f"{prefix}ConnectedLineName: <unknown>", f"{prefix}Language: ru", f"{prefix}AccountCode: ",
             f"{prefix}Context: {context}", f"{prefix}Exten: {exten}", f"{prefix}Priority: {priority}",
             f"{prefix}Uniqueid: {uniqueid}", f"{prefix}Linkedid: {linkedid}"]
    if variables:
        lines += [f"{prefix}ChanVariable: {v}" for v in variables.split("|")]
    return "\n".join(lines)


def event(name: str, at: float, *parts: str, privilege: str = "call,all") -> str:
    return "\n".join([f"Event: {name}", f"Privilege: {privilege}", f"Timestamp: +{at}", *parts]) + "\n\n"


def cdr(at: float, *, source: str, destination: str, context: str, channel: str, dest_channel: str,
        last_data: str, duration: int, billable: int, disposition: str, uniqueid: str, userfield: str = "") -> str:
    return event("Cdr", at, "AccountCode: ", f"Source: {source}", f"Destination: {destination}",
                 f"DestinationContext: {context}", f'CallerID: "" <{source}>', f"Channel: {channel}",
                 f"DestinationChannel: {dest_channel}", "LastApplication: Dial", f"LastData: {last_data}",
                 "StartTime: 2026-11-20 13:00:00", "AnswerTime: ", "EndTime: 2026-11-20 13:01:12",
                 f"Duration: {duration}", f"BillableSeconds: {billable}", f"Disposition: {disposition}",
                 "AMAFlags: DOCUMENTATION", f"UniqueID: {uniqueid}", f"UserField: {userfield}",
                 privilege="cdr,all")


def _bridge(at: float, bridge: str, members: str, count: int, leave: bool = False) -> str:
    return event("BridgeLeave" if leave else "BridgeEnter", at, f"BridgeUniqueid: {bridge}", "BridgeType: basic",
                 "BridgeTechnology: simple_bridge", "BridgeCreator: <unknown>", "BridgeName: <unknown>",
                 f"BridgeNumChannels: {count}", "BridgeVideoSourceMode: none", members)


# -- an incoming call, answered by 101 after 12 s, 60 s of talk ------------------------------------------------

TRUNK_IN = "PJSIP/voippro-00000021"
PHONE_101 = "PJSIP/101-00000022"
MIX = f"MIXMONITOR_FILENAME=/var/spool/asterisk/monitor/{RECORDING}"


def _trunk(state: str, *, variables: str = "MAYAK_REF=|MIXMONITOR_FILENAME=", priority: str = "1") -> str:
    return _channel("", TRUNK_IN, state, CLIENT_RAW, "from-trunk", LINE_RAW, "1764500000.41", "1764500000.41",
                    priority=priority, variables=variables)


def _phone_101(state: str, prefix: str = "") -> str:
    return _channel(prefix, PHONE_101, state, "101", "from-internal", "101" if prefix else "s", "1764500000.42",
                    "1764500000.41", connected=CLIENT_RAW)


INBOUND_ANSWERED = "".join([
    event("Newchannel", 0.0, _trunk("0")),
    event("Newstate", 0.01, _trunk("4")),
    event("Newchannel", 0.2, _phone_101("0")),
    event("DialBegin", 0.2, _trunk("4", variables=f"MAYAK_REF=|{MIX}", priority="3"), _phone_101("0", "Dest"),
          "DialString: 101"),
    event("Newstate", 0.25, _phone_101("5")),
    event("Newstate", 12.0, _phone_101("6")),
    event("DialEnd", 12.0, _trunk("4", variables=f"MAYAK_REF=|{MIX}", priority="3"), _phone_101("6", "Dest"),
          "DialStatus: ANSWER"),
    event("BridgeCreate", 12.0, "BridgeUniqueid: 5e2c1f0a-41", "BridgeType: basic",
          "BridgeTechnology: simple_bridge", "BridgeCreator: <unknown>", "BridgeName: <unknown>",
          "BridgeNumChannels: 0", "BridgeVideoSourceMode: none"),
    _bridge(12.0, "5e2c1f0a-41", _trunk("6", variables=f"MAYAK_REF=|{MIX}"), 1),
    _bridge(12.0, "5e2c1f0a-41", _phone_101("6"), 2),
    _bridge(72.0, "5e2c1f0a-41", _phone_101("6"), 1, leave=True),
    event("Hangup", 72.0, _phone_101("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
    _bridge(72.0, "5e2c1f0a-41", _trunk("6", variables=f"MAYAK_REF=|{MIX}"), 0, leave=True),
    event("Hangup", 72.0, _trunk("6", variables=f"MAYAK_REF=|{MIX}"), "Cause: 16", "Cause-txt: Normal Clearing"),
    cdr(72.1, source=CLIENT_RAW, destination=LINE_RAW, context="from-trunk", channel=TRUNK_IN,
        dest_channel=PHONE_101, last_data="PJSIP/101,30,tT", duration=72, billable=60, disposition="ANSWERED",
        uniqueid="1764500000.41"),
])

# -- an incoming call to a ring group (101, 102) that the caller gave up on after 25 s ------------------------------

TRUNK_MISSED = "PJSIP/voippro-00000031"
RING = {"101": ("PJSIP/101-00000032", "1764500000.52"), "102": ("PJSIP/102-00000033", "1764500000.53")}


def _caller(state: str) -> str:
    return _channel("", TRUNK_MISSED, state, CLIENT_RAW, "from-trunk", LINE_RAW, "1764500000.51", "1764500000.51")


def _member(extension: str, state: str, prefix: str = "") -> str:
    channel, uniqueid = RING[extension]
    return _channel(prefix, channel, state, extension, "from-internal", extension if prefix else "s", uniqueid,
                    "1764500000.51", connected=CLIENT_RAW)


INBOUND_MISSED = "".join([
    event("Newchannel", 0.0, _caller("0")),
    event("Newstate", 0.01, _caller("4")),
    event("Newchannel", 0.3, _member("101", "0")),
    event("Newchannel", 0.3, _member("102", "0")),
    event("DialBegin", 0.3, _caller("4"), _member("101", "0", "Dest"), "DialString: 101"),
    event("DialBegin", 0.3, _caller("4"), _member("102", "0", "Dest"), "DialString: 102"),
    event("Newstate", 0.4, _member("101", "5")),
    event("Newstate", 0.4, _member("102", "5")),
    event("DialEnd", 25.0, _caller("4"), _member("101", "5", "Dest"), "DialStatus: CANCEL"),
    event("DialEnd", 25.0, _caller("4"), _member("102", "5", "Dest"), "DialStatus: CANCEL"),
    event("Hangup", 25.0, _member("101", "5"), "Cause: 0", "Cause-txt: Unknown"),
    event("Hangup", 25.0, _member("102", "5"), "Cause: 0", "Cause-txt: Unknown"),
    event("Hangup", 25.0, _caller("4"), "Cause: 16", "Cause-txt: Normal Clearing"),
    cdr(25.1, source=CLIENT_RAW, destination=LINE_RAW, context="from-trunk", channel=TRUNK_MISSED,
        dest_channel=RING["101"][0], last_data="PJSIP/101&PJSIP/102,25", duration=25, billable=0,
        disposition="NO ANSWER", uniqueid="1764500000.51"),
    cdr(25.1, source=CLIENT_RAW, destination=LINE_RAW, context="from-trunk", channel=TRUNK_MISSED,
        dest_channel=RING["102"][0], last_data="PJSIP/101&PJSIP/102,25", duration=25, billable=0,
        disposition="NO ANSWER", uniqueid="1764500000.51"),
])

# -- 102 calls 101, answered after 5 s, 30 s of talk -------------------------------------------------------------------

PHONE_102 = "PJSIP/102-00000041"
PHONE_101B = "PJSIP/101-00000042"


def _colleague(state: str) -> str:
    return _channel("", PHONE_102, state, "102", "from-internal", "101", "1764500000.61", "1764500000.61")


def _callee(state: str, prefix: str = "") -> str:
    return _channel(prefix, PHONE_101B, state, "101", "from-internal", "101" if prefix else "s", "1764500000.62",
                    "1764500000.61", connected="102")


INTERNAL = "".join([
    event("Newchannel", 0.0, _colleague("0")),
    event("Newstate", 0.01, _colleague("4")),
    event("Newchannel", 0.1, _callee("0")),
    event("DialBegin", 0.1, _colleague("4"), _callee("0", "Dest"), "DialString: 101"),
    event("Newstate", 0.15, _callee("5")),
    event("DialEnd", 5.0, _colleague("4"), _callee("6", "Dest"), "DialStatus: ANSWER"),
    _bridge(5.0, "0b7d9a11-61", _colleague("6"), 1),
    _bridge(5.0, "0b7d9a11-61", _callee("6"), 2),
    event("Hangup", 35.0, _callee("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
    event("Hangup", 35.0, _colleague("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
    cdr(35.1, source="102", destination="101", context="from-internal", channel=PHONE_102,
        dest_channel=PHONE_101B, last_data="PJSIP/101,30", duration=35, billable=30, disposition="ANSWERED",
        uniqueid="1764500000.61"),
])


# -- our click-to-call: the Originate's stream -------------------------------------------------------------------------


def originated(fields: list[tuple[str, str]]) -> str:
    """What Asterisk sends after ``Originate`` (Channel PJSIP/101, Exten the client's number): 101 picks up after
    4 s, the client after 10 more, 95 s of talk."""
    get = {k.lower(): v for k, v in reversed(fields)}
    action_id, number = get["actionid"], get["exten"]
    reference = action_id.removeprefix("mayak-")
    origin, trunk = "PJSIP/101-00000071", "PJSIP/voippro-00000072"
    refvar = f"MAYAK_REF={reference}|MIXMONITOR_FILENAME="

    def manager(state: str, exten: str = "s", variables: str = refvar) -> str:
        return _channel("", origin, state, "101", "from-internal", exten, "1764500000.71", "1764500000.71",
                        variables=variables)

    def client(state: str, prefix: str = "") -> str:
        return _channel(prefix, trunk, state, number, "from-trunk", "s", "1764500000.72", "1764500000.71",
                        connected="101")

    return "".join([
        event("Newchannel", 0.0, manager("0", variables="MAYAK_REF=|MIXMONITOR_FILENAME=")),
        event("Newstate", 0.05, manager("5")),
        event("Newstate", 4.0, manager("6")),
        event("OriginateResponse", 4.0, f"ActionID: {action_id}", "Response: Success", f"Channel: {origin}",
              "Context: from-internal", f"Exten: {number}", "Application: ", "Data: ", "Reason: 4",
              "Uniqueid: 1764500000.71", "CallerIDNum: 101", f"CallerIDName: {number}"),
        event("Newchannel", 4.1, client("0")),
        event("DialBegin", 4.1, manager("6", number), client("0", "Dest"), f"DialString: {number}@voippro"),
        event("Newstate", 4.3, client("5")),
        event("DialEnd", 14.0, manager("6", number), client("6", "Dest"), "DialStatus: ANSWER"),
        _bridge(14.0, "77aa01bb-71", manager("6", number), 1),
        _bridge(14.0, "77aa01bb-71", client("6"), 2),
        event("Hangup", 109.0, client("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
        event("Hangup", 109.0, manager("6", number), "Cause: 16", "Cause-txt: Normal Clearing"),
        cdr(109.1, source="101", destination=number, context="from-internal", channel=origin, dest_channel=trunk,
            last_data=f"PJSIP/{number}@voippro,60", duration=109, billable=95, disposition="ANSWERED",
            uniqueid="1764500000.71"),
    ])


def originated_unanswered(fields: list[tuple[str, str]]) -> str:
    """The manager's phone rings 30 s and nobody picks up: the channel hangs up, then ``OriginateResponse``
    ``Failure`` (reason 3, no answer) without a channel."""
    get = {k.lower(): v for k, v in reversed(fields)}
    action_id, number = get["actionid"], get["exten"]
    reference = action_id.removeprefix("mayak-")
    origin = "PJSIP/101-00000081"

    def manager(state: str, variables: str) -> str:
        return _channel("", origin, state, "101", "from-internal", "s", "1764500000.81", "1764500000.81",
                        variables=variables)

    return "".join([
        event("Newchannel", 0.0, manager("0", "MAYAK_REF=|MIXMONITOR_FILENAME=")),
        event("Newstate", 0.05, manager("5", f"MAYAK_REF={reference}|MIXMONITOR_FILENAME=")),
        event("Hangup", 30.0, manager("5", f"MAYAK_REF={reference}|MIXMONITOR_FILENAME="), "Cause: 19",
              "Cause-txt: User alerting, no answer"),
        event("OriginateResponse", 30.0, f"ActionID: {action_id}", "Response: Failure", "Channel: PJSIP/101",
              "Context: from-internal", f"Exten: {number}", "Application: ", "Data: ", "Reason: 3",
              "Uniqueid: <null>", "CallerIDNum: 101", f"CallerIDName: {number}"),
    ])


# -- 101 calls the client back from the desk phone, 30 s into the stream: picked up after 10 s, 60 s of talk ----------

PHONE_101_OUT, TRUNK_OUT = "PJSIP/101-00000091", "PJSIP/voippro-00000092"


def _desk(state: str) -> str:
    return _channel("", PHONE_101_OUT, state, "101", "from-internal", CLIENT_RAW, "1764500000.91", "1764500000.91")


def _called(state: str, prefix: str = "") -> str:
    return _channel(prefix, TRUNK_OUT, state, CLIENT_RAW, "from-trunk", "s", "1764500000.92", "1764500000.91",
                    connected="101")


CALL_BACK = "".join([
    event("Newchannel", 30.0, _desk("0")),
    event("Newstate", 30.01, _desk("4")),
    event("Newchannel", 30.1, _called("0")),
    event("DialBegin", 30.1, _desk("4"), _called("0", "Dest"), f"DialString: {CLIENT_RAW}@voippro"),
    event("Newstate", 31.0, _called("5")),
    event("DialEnd", 40.0, _desk("4"), _called("6", "Dest"), "DialStatus: ANSWER"),
    _bridge(40.0, "9c1d2e3f-91", _desk("6"), 1),
    _bridge(40.0, "9c1d2e3f-91", _called("6"), 2),
    event("Hangup", 100.0, _called("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
    event("Hangup", 100.0, _desk("6"), "Cause: 16", "Cause-txt: Normal Clearing"),
    cdr(100.1, source="101", destination=CLIENT_RAW, context="from-internal", channel=PHONE_101_OUT,
        dest_channel=TRUNK_OUT, last_data=f"PJSIP/{CLIENT_RAW}@voippro,60", duration=70, billable=60,
        disposition="ANSWERED", uniqueid="1764500000.91"),
])

# -- an incoming call 101 answers after 12 s and transfers to 103 ----------------------------------------------------
#
# Blind (101's phone sends REFER, or ## in features.conf): at 40 s Asterisk takes 101 out of the bridge and hangs it
# up, then the client's channel dials 103, which answers at 45 s; they talk until 105 s.
# Attended (*2, features.conf's atxfer): at 30 s 101 leaves the client on hold and Asterisk dials 103 for 101 through a
# pair of Local channels — of the same Linkedid, since 101's channel asked for them; 103 answers at 36 s; at 40 s 101
# hangs up, which completes the transfer: the Local pair optimizes itself away and the client is bridged with 103
# until 100 s. One Cdr per answered leg.


def _transfer_legs(base: str, suffix: str) -> dict[str, tuple[str, str]]:
    """The transfer's channels: (channel, Uniqueid), the client's trunk channel's Uniqueid being the Linkedid."""
    return {"trunk": (f"PJSIP/voippro-{suffix}1", f"{base}1"), "101": (f"PJSIP/101-{suffix}2", f"{base}2"),
            "103": (f"PJSIP/103-{suffix}3", f"{base}3"), "local1": (f"Local/103@from-internal-{suffix}4;1", f"{base}4"),
            "local2": (f"Local/103@from-internal-{suffix}4;2", f"{base}5")}


def _transfer(kind: str) -> str:
    base, suffix = ("1764500001.0", "000000a") if kind == "blind" else ("1764500001.1", "000000b")
    legs = _transfer_legs(base, suffix)
    linkedid = legs["trunk"][1]

    def leg(name: str, state: str, prefix: str = "") -> str:
        channel, uniqueid = legs[name]
        if name == "trunk":
            return _channel(prefix, channel, state, CLIENT_RAW, "from-trunk", LINE_RAW, uniqueid, linkedid)
        if name.startswith("local"):
            return _channel(prefix, channel, state, "101", "from-internal", "103", uniqueid, linkedid,
                            connected=CLIENT_RAW)
        return _channel(prefix, channel, state, name, "from-internal", name if prefix else "s", uniqueid, linkedid,
                        connected=CLIENT_RAW)

    first, hold = f"{suffix}-b1", f"{suffix}-b2"
    answered_by_101 = [
        event("Newchannel", 0.0, leg("trunk", "0")),
        event("Newstate", 0.01, leg("trunk", "4")),
        event("Newchannel", 0.2, leg("101", "0")),
        event("DialBegin", 0.2, leg("trunk", "4"), leg("101", "0", "Dest"), "DialString: 101"),
        event("Newstate", 0.25, leg("101", "5")),
        event("Newstate", 12.0, leg("101", "6")),
        event("DialEnd", 12.0, leg("trunk", "4"), leg("101", "6", "Dest"), "DialStatus: ANSWER"),
        _bridge(12.0, first, leg("trunk", "6"), 1),
        _bridge(12.0, first, leg("101", "6"), 2),
    ]
    def first_cdr(at: float) -> str:  # 101's part: answered at 12 s, transferred at 40 s
        return cdr(at, source=CLIENT_RAW, destination=LINE_RAW, context="from-trunk", channel=legs["trunk"][0],
                   dest_channel=legs["101"][0], last_data="PJSIP/101,30,tT", duration=40, billable=28,
                   disposition="ANSWERED", uniqueid=linkedid)

    if kind == "blind":
        transfer = [
            event("BlindTransfer", 40.0, "Result: Success", leg("101", "6", "Transferer"),
                  leg("trunk", "6", "Transferee"), f"BridgeUniqueid: {first}", "BridgeType: basic", "IsExternal: No",
                  "Context: from-internal", "Extension: 103"),
            _bridge(40.0, first, leg("101", "6"), 1, leave=True),
            event("Hangup", 40.0, leg("101", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(40.0, first, leg("trunk", "6"), 0, leave=True),
            event("Newchannel", 40.1, leg("103", "0")),
            event("DialBegin", 40.1, leg("trunk", "6"), leg("103", "0", "Dest"), "DialString: 103"),
            event("Newstate", 40.2, leg("103", "5")),
            event("Newstate", 45.0, leg("103", "6")),
            event("DialEnd", 45.0, leg("trunk", "6"), leg("103", "6", "Dest"), "DialStatus: ANSWER"),
            _bridge(45.0, hold, leg("trunk", "6"), 1),
            _bridge(45.0, hold, leg("103", "6"), 2),
            _bridge(105.0, hold, leg("103", "6"), 1, leave=True),
            event("Hangup", 105.0, leg("103", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(105.0, hold, leg("trunk", "6"), 0, leave=True),
            event("Hangup", 105.0, leg("trunk", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            first_cdr(105.1),
            cdr(105.1, source=CLIENT_RAW, destination="103", context="from-internal", channel=legs["trunk"][0],
                dest_channel=legs["103"][0], last_data="PJSIP/103,30", duration=65, billable=60,
                disposition="ANSWERED", uniqueid=linkedid),
        ]
    else:
        consult = f"{suffix}-b3"
        transfer = [
            _bridge(30.0, first, leg("101", "6"), 1, leave=True),
            event("Newchannel", 30.0, leg("local1", "0")),
            event("Newchannel", 30.0, leg("local2", "4")),
            event("Newchannel", 30.1, leg("103", "0")),
            event("DialBegin", 30.1, leg("local2", "4"), leg("103", "0", "Dest"), "DialString: 103"),
            event("Newstate", 30.2, leg("103", "5")),
            event("Newstate", 36.0, leg("103", "6")),
            event("DialEnd", 36.0, leg("local2", "4"), leg("103", "6", "Dest"), "DialStatus: ANSWER"),
            _bridge(36.0, hold, leg("local2", "6"), 1),
            _bridge(36.0, hold, leg("103", "6"), 2),
            _bridge(36.0, consult, leg("101", "6"), 1),
            _bridge(36.0, consult, leg("local1", "6"), 2),
            event("AttendedTransfer", 40.0, "Result: Success", leg("101", "6", "OrigTransferer"),
                  f"OrigBridgeUniqueid: {first}", leg("101", "6", "SecondTransferer"),
                  f"SecondBridgeUniqueid: {consult}", "DestType: Bridge", f"DestBridgeUniqueid: {first}",
                  leg("trunk", "6", "Transferee"), leg("local1", "6", "TransferTarget"), "IsExternal: No"),
            _bridge(40.0, consult, leg("101", "6"), 1, leave=True),
            event("Hangup", 40.0, leg("101", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(40.0, consult, leg("local1", "6"), 0, leave=True),
            _bridge(40.0, first, leg("local1", "6"), 2),
            _bridge(40.1, hold, leg("103", "6"), 1, leave=True),
            _bridge(40.1, first, leg("103", "6"), 3),
            _bridge(40.1, first, leg("local1", "6"), 2, leave=True),
            event("Hangup", 40.1, leg("local1", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(40.1, hold, leg("local2", "6"), 0, leave=True),
            event("Hangup", 40.1, leg("local2", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(100.0, first, leg("103", "6"), 1, leave=True),
            event("Hangup", 100.0, leg("103", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            _bridge(100.0, first, leg("trunk", "6"), 0, leave=True),
            event("Hangup", 100.0, leg("trunk", "6"), "Cause: 16", "Cause-txt: Normal Clearing"),
            first_cdr(100.1),
            cdr(100.1, source="101", destination="103", context="from-internal", channel=legs["101"][0],
                dest_channel=legs["local1"][0], last_data="Local/103@from-internal", duration=10, billable=4,
                disposition="ANSWERED", uniqueid=legs["101"][1]),
            cdr(100.1, source="101", destination="103", context="from-internal", channel=legs["local2"][0],
                dest_channel=legs["103"][0], last_data="PJSIP/103,30", duration=70, billable=64,
                disposition="ANSWERED", uniqueid=legs["local2"][1]),
        ]
    return "".join(answered_by_101 + transfer)


TRANSFER_LINKEDID = {"blind": "1764500001.01", "attended": "1764500001.11"}
TRANSFERS = {"blind": _transfer("blind"), "attended": _transfer("attended")}
