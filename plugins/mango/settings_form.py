"""The settings form of the mango plugin (Administration → Plugins → mango): the API address, the key and salt of
Mango's API connector (write-only, encrypted at rest) and whether the CRM routes incoming calls. Values saved here
take the place of ``[plugins.mango]``."""

from __future__ import annotations

from wtforms import BooleanField, Form, StringField, ValidationError
from wtforms.validators import URL, DataRequired, Length

from mayak import SecretField
from mayak import lazy_gettext as _l


class MangoForm(Form):
    api_url = StringField(_l("API address"), default="https://app.mango-office.ru/vpbx/",
                          validators=[DataRequired(), URL(require_tld=False), Length(max=500)],
                          description=_l("Leave it as it is unless Mango Office gave you another one."))
    api_key = SecretField(_l("API key"), validators=[Length(max=200)],
                          description=_l("The PBX's unique code from the API connector's page in Mango Office."))
    api_salt = SecretField(_l("API salt"), validators=[Length(max=200)],
                           description=_l("The signing key from the same page; it never leaves Mayak."))
    route_incoming = BooleanField(_l("Ring the client's manager first"),
                                  description=_l("A known client's call waiting in the voice menu is put through to "
                                                 "their manager's extension; any other call follows the PBX's "
                                                 "scenario."))

    def validate_api_salt(self, field: SecretField) -> None:  # no Optional(): it would skip this check when empty
        if bool(self.api_key.data) != bool(field.data):
            raise ValidationError(_l("Enter both the key and the salt: Mango signs everything with the two."))
