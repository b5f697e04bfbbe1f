"""The settings form of the webhooks plugin (Administration → Plugins → webhooks): the receiver's URL, the shared
secret (write-only, encrypted at rest), the events to send and the origins to leave out. Values saved there take the
place of ``[plugins.webhooks]``; a change of ``events`` decides what is sent at once (subscriptions follow at the
next start)."""

from __future__ import annotations

from typing import Any

from wtforms import Form, SelectMultipleField, StringField, ValidationError
from wtforms.validators import URL, Length, Optional

from mayak import ORIGIN_KINDS, SecretField, event_catalogue, plugin_settings
from mayak import lazy_gettext as _l

__all__ = ["WebhooksForm", "plugin_settings"]

# where an event came from, in the reader's words (the values stay the names plugins.toml uses)
ORIGIN_LABELS = {
    "user": _l("Users' actions"),
    "api": _l("API tokens"),
    "import": _l("Imports"),
    "demo": _l("Demo data"),
    "automation": _l("Automations"),
    "provider": _l("Providers (telephony, SMS, mail)"),
    "system": _l("Mayak itself (scheduled jobs)"),
}


class WebhooksForm(Form):
    url = StringField(_l("Receiver URL"), validators=[Optional(), URL(require_tld=False), Length(max=2000)],
                      description=_l("Every event is POSTed here as signed JSON; empty: nothing is sent."))
    secret = SecretField(_l("Signing secret"), validators=[Length(max=500)],
                         description=_l("The receiver checks the X-Mayak-Signature header with it."))
    events = SelectMultipleField(_l("Events"), choices=[], description=_l("None chosen: every event."),
                                 render_kw={"size": 10})
    skip_origins = SelectMultipleField(_l("Leave out events from"), choices=[], default=["demo"],
                                       description=_l("Events from the chosen sources are not sent."),
                                       render_kw={"size": len(ORIGIN_KINDS)})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the core's catalogue, and whatever is chosen now (events of other plugins named in plugins.toml)
        chosen = list(getattr(plugin_settings("webhooks"), "events", None) or [])
        self.events.choices = [(name, name) for name in sorted({*event_catalogue(), *chosen})]
        self.skip_origins.choices = [(kind, ORIGIN_LABELS.get(kind, kind)) for kind in ORIGIN_KINDS]

    def validate_secret(self, field: SecretField) -> None:  # no Optional(): it would skip this check when empty
        if self.url.data and not field.data:
            raise ValidationError(_l("A URL needs a signing secret: the receiver cannot trust unsigned deliveries."))
        if field.data and len(field.data) < 16:
            raise ValidationError(_l("Use at least 16 random characters."))
