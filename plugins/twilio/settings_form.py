"""The twilio plugin's settings: the deploy-time ``[plugins.twilio]`` table (:class:`Settings`) and the form in
*Administration → Plugins → twilio* that changes them at run time (the auth token write-only, encrypted at rest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from wtforms import BooleanField, Form, IntegerField, StringField, ValidationError
from wtforms.validators import URL, Length, NumberRange, Optional, Regexp

from mayak import SecretField, plugin_settings, secret_field
from mayak import lazy_gettext as _l
from plugins.twilio.wire import E164, target

__all__ = ["Settings", "TwilioForm", "current"]

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
NAME = "twilio"


@dataclass(frozen=True)
class Settings:
    """``[plugins.twilio]``.

    ``account_sid`` and ``auth_token = { env = "TWILIO_AUTH_TOKEN" }``: the account (the token also checks every
    callback's signature). ``caller_id``: our Twilio number, shown to clients Mayak calls. ``public_url``: Mayak's
    public address (``https://crm.example.com``) for the callback addresses and the signature check when a proxy
    rewrites the address and forwards no headers; empty: the address Twilio called. ``fallback``: whom an incoming
    call rings when the CRM has no manager for it (a number, ``client:name``, ``sip:...``); empty: it is refused as
    busy. ``sip_domain``: extensions of digits ring ``sip:<extension>@<sip_domain>``. ``ring_seconds``: how long a
    manager's phone rings; ``record``: record answered calls."""

    account_sid: str = ""
    auth_token: str = secret_field(default="")
    api_url: str = "https://api.twilio.com"
    caller_id: str = ""
    public_url: str = ""
    fallback: str = ""
    sip_domain: str = ""
    ring_seconds: int = 25
    record: bool = True

    def __post_init__(self) -> None:
        if self.account_sid and not ACCOUNT_SID.fullmatch(self.account_sid):
            raise ValueError("account_sid is AC followed by 32 hexadecimal digits (Twilio console → Account info)")
        for name in ("api_url", "public_url"):
            value = getattr(self, name)
            parts = urlsplit(value)
            if (value or name == "api_url") and (parts.scheme not in ("http", "https") or not parts.netloc
                                                 or parts.query or parts.fragment):
                raise ValueError(f"{name} must be an http(s) address without a query, such as https://crm.example.com")
        if self.caller_id and not E164.fullmatch(self.caller_id):
            raise ValueError("caller_id is your Twilio number in international format, such as +74951234567")
        if self.fallback and target(self.fallback, self.sip_domain) is None:
            raise ValueError("fallback is a phone number (+7...), client:<name> or sip:<user>@<host>")
        if self.sip_domain and not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?", self.sip_domain):
            raise ValueError("sip_domain is a host name, such as office.sip.twilio.com")
        if isinstance(self.ring_seconds, bool) or not isinstance(self.ring_seconds, int) \
                or not 5 <= self.ring_seconds <= 120:
            raise ValueError("ring_seconds is a whole number from 5 to 120")


def current() -> Settings:
    """The settings saved in the admin page over ``[plugins.twilio]``."""
    return plugin_settings(NAME)  # type: ignore[no-any-return]


class TwilioForm(Form):
    account_sid = StringField(_l("Account SID"), validators=[
        Optional(), Regexp(ACCOUNT_SID.pattern + "$", message=_l("An Account SID is AC and 32 hexadecimal digits."))],
        description=_l("Twilio console → Account info."))
    auth_token = SecretField(_l("Auth token"), validators=[Length(max=200)],
                             description=_l("Also checks that callbacks really come from Twilio."))
    api_url = StringField(_l("API address"), default="https://api.twilio.com",
                          validators=[URL(require_tld=False), Length(max=500)])
    caller_id = StringField(_l("Your Twilio number"), validators=[
        Optional(), Regexp(E164.pattern + "$", message=_l("Write the number as +74951234567."))],
        description=_l("Clients see it when Mayak calls them."))
    public_url = StringField(_l("Mayak's public address"), validators=[Optional(), URL(require_tld=False),
                                                                       Length(max=500)],
                             description=_l("Such as https://crm.example.com. Needed for click-to-call and when a "
                                            "proxy changes the address Twilio calls."))
    fallback = StringField(_l("Ring when no manager is found"), validators=[Length(max=256)],
                           description=_l("A number (+7...), client:name or sip:user@host. Empty: such calls hear "
                                          "busy."))
    sip_domain = StringField(_l("SIP domain of extensions"), validators=[Optional(), Length(max=253)],
                             description=_l("Extensions made of digits ring sip:<extension>@<this domain>."))
    ring_seconds = IntegerField(_l("How long a manager's phone rings, seconds"), default=25,
                                validators=[NumberRange(min=5, max=120)])
    record = BooleanField(_l("Record answered calls"), default=True)

    def validate_api_url(self, field: StringField) -> None:
        if urlsplit(field.data or "").query:
            raise ValidationError(_l("The address takes no query."))

    def validate_public_url(self, field: StringField) -> None:
        if urlsplit(field.data or "").query:
            raise ValidationError(_l("The address takes no query."))

    def validate_fallback(self, field: StringField) -> None:
        if field.data and target(field.data, self.sip_domain.data or "") is None:
            raise ValidationError(_l("Write a number (+7...), client:name or sip:user@host."))

    def validate_sip_domain(self, field: StringField) -> None:
        if field.data and not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?", field.data):
            raise ValidationError(_l("Write a host name, such as office.sip.twilio.com."))
