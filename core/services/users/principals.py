"""Who a request acts as — the signed-in user or an API token's — with teams, roles and grants, from the process's
memory (:mod:`core.reference_cache`): no statement of its own while nobody changed users, roles or tokens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from core.models import ApiToken, User
from core.reference_cache import API_TOKENS, PEOPLE, attach, cached, detached_session
from core.services.users.rights_loading import with_rights


def _load_user(user_id: int) -> User | None:
    with detached_session() as session:
        return session.execute(select(User).where(User.id == user_id).options(*with_rights())
                               ).unique().scalar_one_or_none()


def user(user_id: int) -> User | None:
    """User ``user_id`` with their teams, roles and grants, as the request's own object (``None``: no such user)."""
    kept = cached(PEOPLE, ("user", user_id), lambda: _load_user(user_id))
    return attach(kept) if kept is not None else None


def _load_token(digest: str) -> ApiToken | None:
    with detached_session() as session:
        return session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)
                               .options(lazyload(ApiToken.user))).one_or_none()


def token(digest: str) -> ApiToken | None:
    """The API token whose SHA-256 is ``digest``, with its user (and their rights) as ``token.user``."""
    kept = cached(API_TOKENS, ("token", digest), lambda: _load_token(digest))
    if kept is None:
        return None
    holder = user(kept.user_id)
    if holder is None:
        return None
    row = attach(kept)
    set_committed_value(row, "user", holder)  # the cached user, without marking the token changed
    return row
