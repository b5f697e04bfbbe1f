"""A test plugin with runtime settings (one secret), per-user settings and a health check that reads them."""

from __future__ import annotations

from wtforms import Form, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from mayak import HealthStatus, SecretField, hookimpl, plugin_settings


class SettingsForm(Form):
    endpoint = StringField("Endpoint", validators=[DataRequired(), Length(max=200)],
                           description="Where the gateway answers")
    api_key = SecretField("API key", validators=[DataRequired(), Length(min=8)])
    retries = IntegerField("Retries", default=3, validators=[NumberRange(min=0, max=10)])


class UserForm(Form):
    title = "Sample gateway"
    extension = StringField("Extension", validators=[Optional(), Length(max=6)])
    mailbox_password = SecretField("Mailbox password", validators=[Optional()])


@hookimpl
def plugin_settings_form() -> type[Form]:
    return SettingsForm


@hookimpl
def user_settings_form() -> type[Form]:
    return UserForm


@hookimpl
def plugin_health() -> HealthStatus:
    conf = plugin_settings("settings_sample")
    if not conf.api_key:
        return HealthStatus(False, "no API key")
    return HealthStatus(True, f"gateway {conf.endpoint} answers (key of {len(conf.api_key)} characters)")
