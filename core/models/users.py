"""Users, teams, roles and the grants that roles carry."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, utcnow

SCOPES = ("own", "team", "all")

team_members = Table(
    "team_member",
    Base.metadata,
    Column("team_id", ForeignKey("team.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True),
)

user_roles = Table(
    "user_role",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(Base):
    """A person who signs in. ``session_token`` is part of the login cookie: changing it ends every session."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the user's internal number on the PBX ("101"): whom a call to this extension is for, and whose phone
    # rings first for a click-to-call; unique among users
    extension: Mapped[str | None] = mapped_column(String(20), unique=True)

    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members", lazy="selectin")
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def team_ids(self) -> list[int]:
        return [team.id for team in self.teams]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams", lazy="selectin")


class Role(Base):
    """A named set of grants. ``key`` identifies the roles Mayak seeds (``admin``, ``manager``, ``sales``)."""

    __tablename__ = "role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key: Mapped[str | None] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # entities whose default grants were applied once (so an admin's later changes are never overwritten)
    seeded_entities: Mapped[list[str]] = mapped_column(JSON, default=list)

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="role", cascade="all, delete-orphan", lazy="selectin"
    )


class RoleGrant(Base):
    """Permission to do ``action`` on ``entity`` within ``scope`` (own, team or all)."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("role_id", "entity", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(10), default="own")

    role: Mapped[Role] = relationship(back_populates="grants")
