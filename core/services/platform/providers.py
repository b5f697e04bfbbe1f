"""Which provider serves each kind when several are enabled: the installation's default and a choice per team
(Administration → Providers). The facades (:mod:`core.plugins.provider_facades`) read these choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import ProviderChoice, Team
from core.plugins import provider_facades
from core.plugins.providers import MAIL, MESSAGING, TELEPHONY, ProviderSpec, choice_scope
from core.services.platform import audit
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput

KIND_LABELS = {TELEPHONY: _l("Telephony"), MAIL: _l("Mail")}


@dataclass(frozen=True)
class Scope:
    """One thing a provider is chosen for: ``telephony``, ``mail`` or ``messaging:<channel>``."""

    key: str
    label: Any
    providers: list[ProviderSpec]
    choices: dict[int | None, str]

    @property
    def default(self) -> str | None:
        return self.choices.get(None)


def scopes() -> list[Scope]:
    """Every scope some enabled provider serves, with its providers and stored choices (one query)."""
    found: dict[str, tuple[Any, list[ProviderSpec]]] = {}
    for kind in (TELEPHONY, MESSAGING, MAIL):
        for spec in provider_facades.providers(kind):
            for channel in (spec.channels if kind == MESSAGING else (None,)):
                key = choice_scope(kind, channel)
                label = KIND_LABELS.get(kind) or _l("Messages: %(channel)s",
                                                    channel=_channel_label(channel or ""))
                found.setdefault(key, (label, []))[1].append(spec)
    stored: dict[str, dict[int | None, str]] = {}
    if found:
        for row in db.session.scalars(select(ProviderChoice).where(ProviderChoice.scope.in_(list(found)))):
            stored.setdefault(row.scope, {})[row.team_id] = row.provider
    return [Scope(key, label, specs, stored.get(key, {})) for key, (label, specs) in found.items()]


def of_plugin(plugin: str) -> list[tuple[Any, ProviderSpec]]:
    """The providers one plugin registered, each with what it serves (*Telephony*, *Messages: SMS*...), for its
    page in Administration → Plugins."""
    found = []
    for kind in (TELEPHONY, MESSAGING, MAIL):
        for spec in provider_facades.providers(kind):
            if spec.plugin == plugin:
                label = KIND_LABELS.get(kind) or _l("Messages: %(channel)s", channel=", ".join(
                    _channel_label(channel) for channel in spec.channels))
                found.append((label, spec))
    return found


def _channel_label(channel: str) -> str:
    spec = provider_facades.channel(channel)
    return str(spec.label) if spec is not None else channel


def set_choice(actor: Actor, scope: str, provider: str | None, team_id: int | None = None) -> None:
    """Choose ``provider`` for ``scope`` — as the default (``team_id`` empty) or for one team; an empty
    ``provider`` removes the choice (the team follows the default; the default falls back to the first provider)."""
    require(actor.user, "edit", "provider")
    known = {s.key: s for s in scopes()}
    if scope not in known:
        raise InvalidInput({"scope": _l("No enabled plugin provides this.")})
    if provider and provider not in {spec.key for spec in known[scope].providers}:
        raise InvalidInput({"provider": _l("Choose one of the enabled providers.")})
    if team_id is not None and db.session.get(Team, team_id) is None:
        raise InvalidInput({"team_id": _l("Choose a team from the list.")})
    row = db.session.scalar(select(ProviderChoice).where(
        ProviderChoice.scope == scope,
        ProviderChoice.team_id.is_(None) if team_id is None else ProviderChoice.team_id == team_id))
    before = row.provider if row is not None else None
    if before == (provider or None):
        return
    if not provider:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(ProviderChoice(scope=scope, team_id=team_id, provider=provider))
    else:
        row.provider = provider
    audit.record(actor, "provider.chosen", "provider_choice", None,
                 {"scope": scope, "team_id": team_id, "from": before, "to": provider or None})
    db.session.flush()
