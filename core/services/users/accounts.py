"""Users, teams and roles: creation, changes, deactivation, and the default roles every installation has."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from core.db import db
from core.models import Role, RoleGrant, Team, User, utcnow
from core.models.users import SCOPES, new_session_token
from core.plugins.events import UserCreated, UserDeactivated
from core.services.platform import access, audit, emails, events
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError
from core.services.platform.text import N_, installation_text
from core.services.users import tokens

if TYPE_CHECKING:
    from core.plugins.types import PermissionSpec

MIN_PASSWORD_LENGTH = 10



# Roles seeded on every installation; plugins and admins add grants to them or create their own.
DEFAULT_ROLES: dict[str, tuple[str, str]] = {
    "manager": (N_("Manager"), N_("Sees and manages the work of everyone in their teams.")),
    "sales": (N_("Sales"), N_("Works their own clients, deals and tasks.")),
    "operator": (N_("Operator"), N_("Takes calls and requests and passes them on.")),
    "contact_centre": (N_("External contact centre"), N_("Only submits leads and sees what it submitted.")),
}


def normalise_email(email: str) -> str:
    """The sign-in form of an address: trimmed and lower-cased (mailboxes are case-insensitive in practice).

    Intranet domains (``admin@crm.local``, ``@corp.lan``, ``.test``) are accepted: staff sign in with them."""
    parsed = emails.parse_intranet(email)
    if not parsed.valid:
        raise ValidationError("email", _l("Enter a valid email address, such as name@example.com."))
    return parsed.normalized


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "password", _l("Use at least %(n)d characters for the password.", n=MIN_PASSWORD_LENGTH)
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def _checked(actor: Actor) -> bool:
    """Whether ``actor``'s rights are checked: people are; the command line and installation are trusted (whoever
    runs them owns the server)."""
    return actor.user is not None or actor.via in ("web", "api")


def _require_change(actor: Actor, target: User) -> None:
    if _checked(actor):
        access.require_change_account(actor.user, target)


def _require_team_changes(actor: Actor, target: User, before: Iterable[Team], after: Iterable[Team]) -> None:
    """A non-administrator may not put themselves in a team (that widens what their team-scoped rights reach)."""
    me = actor.user
    if not _checked(actor) or (me is not None and me.is_admin):
        return
    if me is not None and target.id == me.id and {t.id for t in after} - {t.id for t in before}:
        raise access.AccessDenied("join", "team")


def find_by_email(email: str) -> User | None:
    try:
        normalised = normalise_email(email)
    except ValidationError:
        return None
    return db.session.scalar(select(User).where(User.email == normalised))


EXTENSION = re.compile(r"[0-9A-Za-z_.+-]{1,20}")


def checked_extension(value: object, user_id: int | None = None) -> str | None:
    """A typed PBX extension ("101"), checked: ``None`` for blank; :class:`ValidationError` for a malformed one or
    one that another user has (a call to it must reach one person)."""
    text = str(value or "").strip()
    if not text:
        return None
    if not EXTENSION.fullmatch(text):
        raise ValidationError("extension", _l("An extension is up to 20 digits or Latin letters, such as 101."))
    holder = db.session.scalar(select(User).where(User.extension == text, User.id != (user_id or 0)))
    if holder is not None:
        raise ValidationError("extension", _l("Extension %(ext)s already belongs to %(name)s.", ext=text,
                                              name=holder.display_name))
    return text


def create_user(
    actor: Actor,
    *,
    email: str,
    password: str,
    full_name: str = "",
    is_admin: bool = False,
    roles: Iterable[Role] = (),
    teams: Iterable[Team] = (),
    locale: str | None = None,
    extension: str | None = None,
) -> User:
    roles, teams = list(roles), list(teams)
    if _checked(actor):
        access.require_grantable(actor.user, roles=roles, make_admin=is_admin)
    email = normalise_email(email)
    check_password(password)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError("email", _l("A user with this email already exists."))
    extension = checked_extension(extension)
    user = User(
        email=email,
        extension=extension,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        is_admin=is_admin,
        roles=roles,
        teams=teams,
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.created", "user", user.id,
                 {"email": email, "is_admin": is_admin, "roles": [r.key or r.name for r in user.roles]})
    events.emit(UserCreated(subject_id=user.id, origin=actor.origin, email=email))
    db.session.flush()
    return user


def update_user(
    actor: Actor,
    user: User,
    *,
    full_name: str,
    email: str,
    is_admin: bool,
    roles: Iterable[Role],
    teams: Iterable[Team],
    password: str | None = None,
    extension: str | object | None = ...,
) -> User:
    """Change an account (and its password when one is given) in one transaction.

    Only administrators change administrators or make someone one; others change only accounts whose rights they
    hold, and give only roles whose rights they hold (:mod:`core.services.platform.access`). Every check runs before
    anything is changed."""
    roles, teams = list(roles), list(teams)
    _require_change(actor, user)
    if _checked(actor):
        access.require_grantable(actor.user, roles=roles, make_admin=is_admin and not user.is_admin)
        if is_admin != user.is_admin and not (actor.user is not None and actor.user.is_admin):
            raise access.AccessDenied("grant", "admin")
    _require_team_changes(actor, user, user.teams, teams)
    email = normalise_email(email)
    clash = db.session.scalar(select(User.id).where(User.email == email, User.id != user.id))
    if clash is not None:
        raise ValidationError("email", _l("A user with this email already exists."))
    if user.is_admin and not is_admin and _active_admin_count() <= 1:
        raise ValidationError("is_admin", _l("This is the last administrator; make someone else one first."))
    if password:
        check_password(password)
    if extension is not ...:
        extension = checked_extension(extension, user.id)
    before = _snapshot(user)
    if extension is not ...:
        user.extension = extension  # type: ignore[assignment]
    user.full_name = full_name.strip()
    user.email = email
    user.is_admin = is_admin
    user.roles = roles
    user.teams = teams
    audit.record(actor, "user.updated", "user", user.id, audit.diff(before, _snapshot(user)))
    if password:
        _change_password(actor, user, password)
    db.session.flush()
    return user


def update_preferences(actor: Actor, user: User, *, locale: str | None, timezone: str | None,
                       full_name: str) -> None:
    before = {"locale": user.locale, "timezone": user.timezone, "full_name": user.full_name}
    user.locale, user.timezone, user.full_name = locale or None, timezone or None, full_name.strip()
    after = {"locale": user.locale, "timezone": user.timezone, "full_name": user.full_name}
    audit.record(actor, "user.preferences", "user", user.id, audit.diff(before, after))
    db.session.flush()


def set_password(actor: Actor, user: User, password: str) -> None:
    """Change the password and end every existing session and API token of the user."""
    _require_change(actor, user)
    check_password(password)
    _change_password(actor, user, password)
    db.session.flush()


def _change_password(actor: Actor, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    audit.record(actor, "user.password_changed", "user", user.id, {"password": True})
    tokens.revoke_all(actor, user, "password_changed")


def end_sessions(actor: Actor, user: User, reason: str = "logout") -> None:
    user.session_token = new_session_token()
    audit.record(actor, f"auth.{reason}", "user", user.id)
    db.session.flush()


def set_active(actor: Actor, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions and API tokens."""
    _require_change(actor, user)
    if not active and user.is_admin and _active_admin_count() <= 1:
        raise ValidationError("is_active", _l("This is the last administrator; it cannot be disabled."))
    if not active and actor.user_id == user.id:
        raise ValidationError("is_active", _l("You cannot disable your own account."))
    user.is_active = active
    if not active:
        user.session_token = new_session_token()
        tokens.revoke_all(actor, user, "user_disabled")
        events.emit(UserDeactivated(subject_id=user.id, origin=actor.origin, email=user.email))
    audit.record(actor, "user.enabled" if active else "user.disabled", "user", user.id)
    db.session.flush()


def record_login(actor: Actor, user: User) -> None:
    user.last_login_at = utcnow()
    audit.record(actor, "auth.login", "user", user.id)
    db.session.flush()


def _active_admin_count() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.is_admin.is_(True), User.is_active.is_(True))
    ) or 0


def _snapshot(user: User) -> dict[str, object]:
    return {
        "full_name": user.full_name,
        "extension": user.extension,
        "email": user.email,
        "is_admin": user.is_admin,
        "roles": sorted(r.name for r in user.roles),
        "teams": sorted(t.name for t in user.teams),
    }


# --- teams -----------------------------------------------------------------------------------------------


def _unique_name(model: type[Team] | type[Role], current: Team | Role | None, name: str,
                 missing: object, taken: object) -> str:
    """The trimmed name, or a ValidationError when it is empty or another record has it (ignoring case)."""
    name = name.strip()
    if not name:
        raise ValidationError("name", missing)
    clash = select(model.id).where(func.lower(model.name) == name.lower())
    if current is not None:
        clash = clash.where(model.id != current.id)
    if db.session.scalar(clash) is not None:
        raise ValidationError("name", taken)
    return name


def save_team(actor: Actor, team: Team | None, *, name: str, members: Iterable[User]) -> Team:
    name = _unique_name(Team, team, name, _l("Give the team a name."), _l("A team with this name already exists."))
    members = list(members)
    if _checked(actor):
        old = list(team.members) if team is not None else []
        for member in _changed_members(old, members):
            _require_change(actor, member)
            me = actor.user
            if me is not None and member.id == me.id and not me.is_admin and me.id in {u.id for u in members}:
                raise access.AccessDenied("join", "team")
    created = team is None
    team = team or Team()
    before = {"name": team.name, "members": sorted(u.email for u in team.members)} if not created else {}
    team.name = name
    team.members = members
    db.session.add(team)
    db.session.flush()
    after = {"name": team.name, "members": sorted(u.email for u in team.members)}
    audit.record(actor, "team.created" if created else "team.updated", "team", team.id, audit.diff(before, after))
    db.session.flush()
    return team


def _changed_members(before: list[User], after: list[User]) -> list[User]:
    """Who joins or leaves a team."""
    kept = {u.id for u in before} & {u.id for u in after}
    return [u for u in [*before, *after] if u.id not in kept]


def delete_team(actor: Actor, team: Team) -> None:
    for member in team.members:
        _require_change(actor, member)
    audit.record(actor, "team.deleted", "team", team.id, {"name": team.name})
    db.session.delete(team)
    db.session.flush()


# --- roles -----------------------------------------------------------------------------------------------


def save_role(
    actor: Actor,
    role: Role | None,
    *,
    name: str,
    description: str,
    grants: dict[tuple[str, str], str],
    known: dict[str, tuple[str, ...]],
) -> Role:
    """Create or update a role; ``grants`` maps (entity, action) to a scope and replaces the old grants."""
    name = _unique_name(Role, role, name, _l("Give the role a name."), _l("A role with this name already exists."))
    for (entity, action), scope in grants.items():
        if entity not in known or action not in known[entity] or scope not in SCOPES:
            raise ValidationError("grants", _l("Unknown permission %(p)s.", p=f"{entity}.{action}"))
    if _checked(actor):
        # a role that gives more than the editor holds is not theirs to change, nor to make
        if role is not None and not access.holds(actor.user, access.grants_of([role])):
            raise access.AccessDenied("edit", "role")
        beyond = sorted(f"{e}.{a}" for (e, a), sc in grants.items() if not access.holds(actor.user, [(e, a, sc)]))
        if beyond:
            raise ValidationError("grants", _l("You can give only rights you hold yourself, at most as wide; "
                                               "these go beyond yours: %(list)s.", list=", ".join(beyond)))
    created = role is None
    role = role or Role()
    before = {f"{g.entity}.{g.action}": g.scope for g in role.grants} if not created else {}
    role.name = name
    role.description = description.strip()
    existing = {(g.entity, g.action): g for g in role.grants}
    for key, grant in existing.items():
        if key not in grants:
            role.grants.remove(grant)
    for (entity, action), scope in grants.items():
        grant = existing.get((entity, action))
        if grant is None:
            role.grants.append(RoleGrant(entity=entity, action=action, scope=scope))
        else:
            grant.scope = scope
    db.session.add(role)
    db.session.flush()
    after = {f"{g.entity}.{g.action}": g.scope for g in role.grants}
    changes = audit.diff(before, after)
    changes.update({k: [v, None] for k, v in before.items() if k not in after})
    audit.record(actor, "role.created" if created else "role.updated", "role", role.id, changes)
    db.session.flush()
    return role


def delete_role(actor: Actor, role: Role) -> None:
    if _checked(actor) and not access.holds(actor.user, access.grants_of([role])):
        raise access.AccessDenied("edit", "role")
    audit.record(actor, "role.deleted", "role", role.id, {"name": role.name})
    db.session.delete(role)
    db.session.flush()


# --- installation defaults -------------------------------------------------------------------------------


def ensure_default_roles(permissions: Iterable[PermissionSpec] = ()) -> None:
    """Create the seeded roles that do not exist yet and give them each entity's default grants once
    (idempotent; run by ``mayak db upgrade``). Grants an admin changed later are never touched."""
    existing = set(db.session.scalars(select(Role.key).where(Role.key.is_not(None))))
    for key, (name, description) in DEFAULT_ROLES.items():
        if key not in existing and db.session.scalar(select(Role.id).where(Role.name == name)) is None:
            db.session.add(Role(key=key, name=name, description=description, seeded_entities=[]))
    db.session.flush()
    for role in db.session.scalars(select(Role).where(Role.key.in_(list(DEFAULT_ROLES)))):
        seeded = list(role.seeded_entities or [])
        for spec in permissions:
            if spec.entity in seeded:
                continue
            for action, scope in spec.defaults.get(role.key or "", {}).items():
                if not any(g.entity == spec.entity and g.action == action for g in role.grants):
                    role.grants.append(RoleGrant(entity=spec.entity, action=action, scope=scope))
            seeded.append(spec.entity)
        role.seeded_entities = seeded
    db.session.flush()


def ensure_admin(email: str | None, password: str | None) -> tuple[User | None, str | None]:
    """Create the first administrator when there is no user at all.

    Returns the new user and the password to show once (generated when ``password`` is ``None``), or
    ``(None, None)`` when users already exist.
    """
    if db.session.scalar(select(func.count(User.id))):
        return None, None
    shown = password or secrets.token_urlsafe(12)
    user = create_user(
        Actor(user=None, via="install"),
        email=email or "admin@example.com",
        password=shown,
        full_name=installation_text(N_("Administrator")),
        is_admin=True,
    )
    return user, shown
