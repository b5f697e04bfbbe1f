"""The asterisk plugin's settings: ``[plugins.asterisk]`` in ``plugins.toml`` (:class:`Settings`) and the form that
changes them at run time in *Administration → Plugins → asterisk* (:class:`AsteriskForm`; the manager's secret, the
routing token and the recordings' password are write-only there and encrypted at rest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from wtforms import Form, IntegerField, SelectField, StringField, ValidationError
from wtforms.validators import URL, Length, NumberRange, Optional, Regexp

from mayak import SecretField, secret_field
from mayak import lazy_gettext as _l

HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,253}")
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,80}")
CONTEXT = re.compile(r"[A-Za-z0-9_.-]{1,80}")
CHANNEL = re.compile(r"[A-Za-z0-9_./@-]*\{extension\}[A-Za-z0-9_./@-]*")
PREFIX = re.compile(r"[0-9*#]{0,8}")
DIAL_FORMATS = ("digits", "e164", "national")


@dataclass(frozen=True)
class Settings:
    """``[plugins.asterisk]``:

    * ``host``, ``port`` (5038), ``username``, ``secret = { env = "..." }``: the AMI user of ``manager.conf``;
    * ``context`` (``from-internal``) and ``channel`` (``PJSIP/{extension}``; ``SIP/{extension}`` for chan_sip,
      ``Local/{extension}@from-internal`` to follow the phone's own forwarding): how a click-to-call rings the
      manager's phone and then dials the client;
    * ``internal_pattern`` (a regular expression, default two to five digits): what an extension looks like, to tell
      colleagues' calls from clients';
    * ``dial_format`` (``digits`` 79001234567, ``e164`` +79001234567, ``national`` 89001234567) and
      ``dial_prefix`` (an outside-line digit such as ``9``): how the dialplan wants a client's number;
    * ``routing_token = { env = "..." }``: the shared secret of the dialplan's HTTP lookup (at least 16 characters);
    * ``recordings_url`` (an HTTP folder the PBX serves the recordings from, with ``recordings_user`` and
      ``recordings_password`` when it asks for them) or ``recordings_dir`` (the monitor folder on a disk Mayak
      shares with the PBX);
    * ``timeout`` (seconds to wait for the AMI) and ``keepalive`` (seconds of silence before a ``Ping``).
    """

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "mayak"
    secret: str = secret_field(default="")
    context: str = "from-internal"
    channel: str = "PJSIP/{extension}"
    internal_pattern: str = r"\d{2,5}"
    dial_format: str = "digits"
    dial_prefix: str = ""
    routing_token: str = secret_field(default="")
    recordings_url: str = ""
    recordings_dir: str = ""
    recordings_user: str = ""
    recordings_password: str = secret_field(default="")
    timeout: float = 5.0
    keepalive: float = 30.0

    def __post_init__(self) -> None:
        checks = ((HOST, self.host, "host"), (USERNAME, self.username, "username"),
                  (CONTEXT, self.context, "context"), (CHANNEL, self.channel, "channel"),
                  (PREFIX, self.dial_prefix, "dial_prefix"))
        for pattern, value, name in checks:
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise ValueError(f"{name} {value!r} is not valid" + (
                    "; write it with {extension}, such as PJSIP/{extension}" if name == "channel" else ""))
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError("port must be a number between 1 and 65535 (AMI listens on 5038)")
        problem = pattern_problem(self.internal_pattern)
        if problem:
            raise ValueError(f"internal_pattern: {problem}")
        if self.dial_format not in DIAL_FORMATS:
            raise ValueError(f"dial_format must be one of {', '.join(DIAL_FORMATS)}")
        if self.recordings_url and self.recordings_dir:
            raise ValueError("give recordings_url or recordings_dir, not both")
        if self.recordings_url and not re.fullmatch(r"https?://[^\s]+", self.recordings_url):
            raise ValueError("recordings_url must be an http:// or https:// address")
        if self.recordings_dir and not PurePosixPath(self.recordings_dir).is_absolute():
            raise ValueError("recordings_dir must be an absolute path, such as /var/spool/asterisk/monitor")
        if self.routing_token and len(self.routing_token) < 16:
            raise ValueError("routing_token must be at least 16 characters")
        for name, value, low, high in (("timeout", self.timeout, 0.2, 60), ("keepalive", self.keepalive, 0.2, 600)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high} seconds")


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot tell extensions (``None`` when it can): it must compile, match ``101``-like text only
    and stay short."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 100:
        return "give a regular expression of at most 100 characters, such as \\d{2,5}"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression ({exc})"
    if compiled.fullmatch(""):
        return "it matches empty text"
    return None


class AsteriskForm(Form):
    host = StringField(_l("AMI host"), validators=[Regexp(HOST.pattern + r"\Z", message=_l("A host name or address."))],
                       description=_l("The address of the Asterisk server's manager interface."))
    port = IntegerField(_l("AMI port"), default=5038, validators=[NumberRange(min=1, max=65535)])
    username = StringField(_l("AMI user"), validators=[
        Regexp(USERNAME.pattern + r"\Z", message=_l("Latin letters, digits, dots, dashes and underscores."))],
        description=_l("A user of manager.conf (see the plugin's README for its rights)."))
    secret = SecretField(_l("AMI secret"), validators=[Length(max=200)])
    context = StringField(_l("Dialplan context for click-to-call"), default="from-internal", validators=[
        Regexp(CONTEXT.pattern + r"\Z", message=_l("Latin letters, digits, dots, dashes and underscores."))],
        description=_l("Where the client's number is dialled once the manager picks up, such as from-internal."))
    channel = StringField(_l("Manager's phone channel"), default="PJSIP/{extension}", validators=[
        Regexp(CHANNEL.pattern + r"\Z", message=_l("Write it with {extension}, such as PJSIP/{extension}."))],
        description=_l("Rung first on a click-to-call: PJSIP/{extension}, SIP/{extension} or "
                       "Local/{extension}@from-internal."))
    internal_pattern = StringField(_l("What an extension looks like"), default=r"\d{2,5}",
                                   validators=[Length(min=1, max=100)],
                                   description=_l("A regular expression; numbers matching it are colleagues' phones, "
                                                  "not clients."))
    dial_format = SelectField(_l("Dial clients' numbers as"), default="digits",
                              choices=[("digits", "79001234567"), ("e164", "+79001234567"),
                                       ("national", "89001234567")])
    dial_prefix = StringField(_l("Outside line prefix"), validators=[
        Optional(), Regexp(PREFIX.pattern + r"\Z", message=_l("Up to 8 digits, * or #."))],
        description=_l("Put before every client's number, such as 9; empty for none."))
    routing_token = SecretField(_l("Routing lookup token"), validators=[Length(max=200)],
                                description=_l("The dialplan sends it with each lookup of whom to ring."))
    recordings_url = StringField(_l("Recordings address"), validators=[
        Optional(), URL(require_tld=False), Length(max=500)],
        description=_l("An HTTP folder the PBX serves its recordings from, such as "
                       "https://pbx.example.com/monitor/."))
    recordings_user = StringField(_l("Recordings user"), validators=[Optional(), Length(max=100)])
    recordings_password = SecretField(_l("Recordings password"), validators=[Length(max=200)])
    recordings_dir = StringField(_l("Recordings folder"), validators=[Optional(), Length(max=500)],
                                 description=_l("Instead of an address: the monitor folder when Mayak shares the "
                                                "PBX's disk, such as /var/spool/asterisk/monitor."))

    def validate_internal_pattern(self, field: StringField) -> None:
        if pattern_problem(field.data or ""):
            raise ValidationError(_l("Give a regular expression that matches extensions, such as \\d{2,5}."))

    def validate_routing_token(self, field: SecretField) -> None:
        if field.data and len(field.data) < 16:
            raise ValidationError(_l("Use at least 16 random characters."))

    def validate_recordings_dir(self, field: StringField) -> None:
        if field.data and self.recordings_url.data:
            raise ValidationError(_l("Give the recordings address or the folder, not both."))
        if field.data and not PurePosixPath(field.data).is_absolute():
            raise ValidationError(_l("Give a full path, such as /var/spool/asterisk/monitor."))
