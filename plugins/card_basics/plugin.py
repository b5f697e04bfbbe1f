"""Hook implementations of the card basics plugin."""

from __future__ import annotations

from flask import Blueprint, abort, url_for
from flask_babel import lazy_gettext as _l

from mayak import CardAction, CardPanel, can, get_contact, hookimpl
from mayak.web import current_actor, fragment

bp = Blueprint("card_basics", __name__, url_prefix="/plugins/card-basics")


@hookimpl
def card_actions(entity: str, record: object) -> list[CardAction]:
    actions: list[CardAction] = []
    phones = getattr(record, "phones", [])
    emails = getattr(record, "emails", [])
    if phones:
        actions.append(CardAction("call", _l("Call"), f"tel:{phones[0].e164 or phones[0].raw}", order=10))
    if emails:
        actions.append(CardAction("write", _l("Write"), f"mailto:{emails[0].address}", order=30))
    return actions


@hookimpl
def card_panels(entity: str, record: object) -> list[CardPanel]:
    if entity != "contact" or not getattr(record, "memberships", None):
        return []
    return [CardPanel("colleagues", _l("Colleagues"),
                      url_for("card_basics.colleagues", contact_id=record.id), order=50)]  # type: ignore[attr-defined]


@bp.get("/colleagues/<int:contact_id>")
def colleagues(contact_id: int):  # type: ignore[no-untyped-def]
    actor = current_actor()
    try:
        contact = get_contact(actor, contact_id)
    except LookupError:
        abort(404)
    people = []
    for membership in contact.memberships:
        for other in membership.company.memberships:
            person = other.contact
            if (person.id != contact.id and person.deleted_at is None
                    and can(actor.user, "view", "contact", person)):
                people.append((person, other.job_title, membership.company.name))
    return fragment("card_basics/colleagues.html", "panel", people=people[:20])


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
