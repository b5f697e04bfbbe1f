"""The forms of mail_notify in the admin pages: the SMTP server (Administration → Plugins → mail_notify) and each
user's choice of where reminders go (their profile). ``plugins.toml`` values stay the defaults under them."""

from __future__ import annotations

from wtforms import BooleanField, Form, IntegerField, SelectField, StringField, ValidationError
from wtforms.validators import URL, Email, Length, NumberRange, Optional

from mayak import SecretField, plugin_settings, user_settings
from mayak import lazy_gettext as _l

__all__ = ["SmtpForm", "UserMailForm", "plugin_settings", "user_settings"]


class SmtpForm(Form):
    host = StringField(_l("SMTP server"), validators=[Optional(), Length(max=253)],
                       description=_l("Empty: reminders stay in the app."))
    port = IntegerField(_l("Port"), default=587, validators=[NumberRange(min=1, max=65535)])
    security = SelectField(_l("Encryption"), default="starttls",
                           choices=[("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", _l("none"))])
    username = StringField(_l("User name"), validators=[Optional(), Length(max=254)])
    password = SecretField(_l("Password"), validators=[Optional(), Length(max=1024)])
    sender = StringField(_l("Sender address"), validators=[Length(max=254)],
                         description=_l("The From address, such as crm@example.com."))
    base_url = StringField(_l("Mayak's address"), validators=[Optional(), URL(require_tld=False), Length(max=500)],
                           description=_l("Such as https://crm.example.com, for the links in the mails."))

    def validate_sender(self, field: StringField) -> None:  # no Optional(): it would skip this check when empty
        if self.host.data and not field.data:
            raise ValidationError(_l("Give the address the mails are sent from."))
        if field.data:
            Email()(self, field)


class UserMailForm(Form):
    title = _l("Email reminders")
    off = BooleanField(_l("Do not send reminders by email"))
    address = StringField(_l("Send them to"), validators=[Optional(), Email(), Length(max=254)],
                          description=_l("Empty: the address used to sign in."))
