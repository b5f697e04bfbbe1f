"""What contacts and companies share: phones, emails, tags, owner and team, the common text fields.

Each helper validates typed input and collects errors per field (``phones.0``, ``emails.1``, ``owner_id``) so a
form can show every problem next to its field at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import Email, Phone, Tag, User
from core.models.contacts import EMAIL_KINDS, PHONE_KINDS
from core.plugins.facades import default_phone_region
from core.services.clients import phones
from core.services.platform import emails
from core.services.platform.access import can
from core.services.platform.context import Actor
from core.services.platform.inserts import insert_ignoring_duplicates
from core.services.platform.text import clean, search_key, text_block

TEXT_LIMITS = {"first_name": 120, "middle_name": 120, "last_name": 120, "job_title": 200, "city": 120,
               "region": 120, "source": 120, "industry": 120, "website": 300, "name": 300}
MAX_ITEMS = 20


def text_fields(values: dict[str, Any], names: Sequence[str]) -> dict[str, str]:
    return {name: clean(str(values.get(name) or ""), TEXT_LIMITS.get(name, 200)) for name in names
            if name in values}


def build_phones(items: list[dict[str, Any]], errors: dict[str, Any], *, keep_unparsed: bool) -> list[Phone]:
    region = default_phone_region()
    result: list[Phone] = []
    for index, item in enumerate(items[:MAX_ITEMS]):
        raw = str(item.get("raw") or item.get("number") or "").strip()
        if not raw:
            continue
        kind = item.get("kind") if item.get("kind") in PHONE_KINDS else "mobile"
        parsed = phones.parse(raw, region)
        if parsed.e164 is None and not keep_unparsed:
            errors[f"phones.{index}"] = _l(
                "%(raw)s is not a phone number we can read: add the country code (+7 …) or save it as typed.",
                raw=raw)
        result.append(Phone(kind=kind, raw=parsed.raw, e164=parsed.e164, digits_rev=parsed.digits_rev,
                            valid=parsed.valid and parsed.e164 is not None, position=len(result)))
    return result


def build_emails(items: list[dict[str, Any]], errors: dict[str, Any]) -> list[Email]:
    result: list[Email] = []
    for index, item in enumerate(items[:MAX_ITEMS]):
        typed = str(item.get("address") or item.get("email") or "").strip()
        if not typed:
            continue
        kind = item.get("kind") if item.get("kind") in EMAIL_KINDS else "work"
        parsed = emails.parse(typed)
        if not parsed.valid:
            errors[f"emails.{index}"] = _l("%(email)s is not an email address, such as name@example.com.",
                                           email=typed)
        result.append(Email(kind=kind, address=parsed.address, normalized=parsed.normalized, valid=parsed.valid,
                            position=len(result)))
    return result


def tags_named(names: Sequence[str]) -> list[Tag]:
    """Existing tags by name (ignoring case), creating the missing ones."""
    wanted: dict[str, str] = {}
    for name in names:
        label = clean(str(name), 80)
        if label:
            wanted.setdefault(search_key(label)[:80], label)
    if not wanted:
        return []
    found = {t.key: t for t in db.session.scalars(select(Tag).where(Tag.key.in_(list(wanted))))}
    missing = [key for key in wanted if key not in found]
    if missing:
        # another request may be creating the same tag right now: insert what is missing, let a row that
        # appeared meanwhile win (no UNIQUE violation, no rolled-back transaction), then read all of them back
        db.session.execute(insert_ignoring_duplicates(Tag, [{"key": key, "name": wanted[key]} for key in missing],
                                                       Tag.key))
        found.update({t.key: t for t in db.session.scalars(select(Tag).where(Tag.key.in_(missing)))})
    return [found[key] for key in wanted]


def resolve_owner(actor: Actor, entity: str, requested: Any, current: int | None,
                  errors: dict[str, Any]) -> int | None:
    """The owner to store. Choosing someone else needs the ``assign`` right; otherwise the request is ignored
    (so a crafted form cannot hand records around)."""
    default = current if current is not None else actor.user_id
    if requested in (None, ""):
        return default
    try:
        owner_id = int(requested)
    except (TypeError, ValueError):
        errors["owner_id"] = _l("Choose a user from the list.")
        return default
    if owner_id == default:
        return default
    if not can(actor.user, "assign", entity):
        return default
    owner = db.session.get(User, owner_id)
    if owner is None or not owner.is_active:
        errors["owner_id"] = _l("Choose an active user as the owner.")
        return default
    return owner_id


def team_of(owner_id: int | None) -> int | None:
    """The team a record belongs to: always its owner's first team. It is never taken from typed input (a form
    or API body naming a team would otherwise move records into a team the actor has no say over)."""
    if owner_id is None:
        return None
    owner = db.session.get(User, owner_id)
    return owner.teams[0].id if owner is not None and owner.teams else None


def phone_sets_equal(a: Sequence[Phone], b: Sequence[Phone]) -> bool:
    return [(p.kind, p.raw) for p in a] == [(p.kind, p.raw) for p in b]


def email_sets_equal(a: Sequence[Email], b: Sequence[Email]) -> bool:
    return [(e.kind, e.address) for e in a] == [(e.kind, e.address) for e in b]


def set_deleted(actor: Actor, model: Any, entity: str, ids: Sequence[int], deleted: bool,
                *conditions: Any) -> list[int]:
    """Soft-delete (or restore) the records ``actor`` may delete; returns their ids, audited as one line.

    Deleting keeps the row (and everything that points at it), so *Undo* is a restore.
    """
    from core.models import utcnow
    from core.plugins import events as catalogue
    from core.services.platform import audit, events

    event = catalogue.EVENTS[f"{entity}_{'deleted' if deleted else 'restored'}"]
    state = model.deleted_at.is_(None) if deleted else model.deleted_at.is_not(None)
    done: list[int] = []
    stamp = utcnow() if deleted else None
    for record in db.session.scalars(select(model).where(model.id.in_(list(ids)), state, *conditions)):
        if can(actor.user, "delete", entity, record):
            record.deleted_at = stamp
            done.append(record.id)
            events.emit(event(subject_id=record.id, origin=actor.origin))
    if done:
        audit.record(actor, f"{entity}.{'deleted' if deleted else 'restored'}", entity,
                     ",".join(map(str, done[:50])), {"ids": done})
    db.session.flush()
    return done


def apply_common(target: Any, values: dict[str, Any], *, entity: str, is_new: bool, partial: bool,
                 keep_unparsed: bool, errors: dict[str, Any]) -> None:
    """Set what contacts and companies share from typed ``values``: notes, phones, emails, tags, custom fields.

    With ``partial`` only the keys present change. Phones and emails are replaced only when they differ, so an
    unchanged card keeps its rows (and their ids)."""
    from core.services.clients import custom_fields
    from core.services.platform.errors import InvalidInput

    if "notes" in values:
        target.notes = text_block(str(values.get("notes") or ""), 20000)
    if not partial or "phones" in values:
        new_phones = build_phones(list(values.get("phones") or []), errors, keep_unparsed=keep_unparsed)
        if is_new or not phone_sets_equal(target.phones, new_phones):
            target.phones = new_phones
    if not partial or "emails" in values:
        new_emails = build_emails(list(values.get("emails") or []), errors)
        if is_new or not email_sets_equal(target.emails, new_emails):
            target.emails = new_emails
    if not partial or "tags" in values:
        target.tags = tags_named(list(values.get("tags") or []))
    if not partial or "custom" in values:
        try:
            target.custom = custom_fields.clean_values(entity, dict(values.get("custom") or {}), partial=partial,
                                                       current=dict(target.custom or {}))
        except InvalidInput as exc:
            errors.update(exc.errors)


def visible_link(model: Any, entity: str, value: Any, field: str, actor: Actor, errors: dict[str, Any],
                 message: Any) -> int | None:
    """The id of the live ``model`` record ``value`` names if ``actor`` may see it; else ``message`` under
    ``field`` in ``errors`` (deals and tasks link clients this way)."""
    if value in (None, ""):
        return None
    try:
        record = db.session.get(model, int(value))
    except (TypeError, ValueError):
        record = None
    if record is None or record.deleted_at is not None or not can(actor.user, "view", entity, record):
        errors[field] = message
        return None
    return int(record.id)
