"""The settings form (*Administration → Plugins → zadarma*): the API key and the write-only secret, the API's
address (Novofon's too), the cabinet's time zone and owner-first routing. Values saved here take the place of
``[plugins.zadarma]``; the ``Settings`` dataclass checks them again before they are saved."""

from __future__ import annotations

from wtforms import BooleanField, Form, IntegerField, StringField, ValidationError
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from mayak import SecretField
from mayak import lazy_gettext as _l
from plugins.zadarma.config import DEFAULT_API_URL, parse_zone


class ZadarmaForm(Form):
    api_key = StringField(_l("API key"), validators=[Optional(), Length(max=200)],
                          description=_l("From the Zadarma cabinet: Settings → Integrations and API → API keys."))
    api_secret = SecretField(_l("API secret"), validators=[Length(max=200)],
                             description=_l("Shown next to the key. It also signs the call notifications, so Mayak "
                                            "refuses notifications until it is set."))
    api_url = StringField(_l("API address"), default=DEFAULT_API_URL,
                          validators=[DataRequired(), URL(require_tld=False), Length(max=300)],
                          description=_l("https://api.zadarma.com; for Novofon, https://api.novofon.com."))
    timezone = StringField(_l("Time zone of the cabinet"), validators=[Optional(), Length(max=64)],
                           description=_l("The zone chosen in the Zadarma cabinet (Europe/Moscow, UTC+3): call "
                                          "times arrive in it. Empty: Mayak's own time zone."))
    route_incoming = BooleanField(_l("Ring a known caller's manager first"), default=True,
                                  description=_l("When a client calls, the PBX rings the extension of the manager "
                                                 "who owns the client before following its own scenario."))
    return_timeout = IntegerField(_l("Seconds to ring the manager"), default=20,
                                  validators=[NumberRange(min=0, max=600)],
                                  description=_l("Then the call goes back to the PBX's scenario; 0: it never goes "
                                                 "back."))

    def validate_timezone(self, field: StringField) -> None:
        if field.data:
            try:
                parse_zone(field.data)
            except ValueError as exc:
                raise ValidationError(_l("Not a time zone: write a name such as Europe/Moscow or an offset such "
                                         "as UTC+3.")) from exc

    def validate_return_timeout(self, field: IntegerField) -> None:
        if field.data is not None and 0 < field.data < 3:
            raise ValidationError(_l("Zadarma rings for at least 3 seconds: write 0 or 3 and more."))
