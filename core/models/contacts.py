"""Contacts (people) and companies (organisations), their phones, emails and tags.

Every phone is kept as typed (``raw``) and, when it parses, as E.164 (``e164``, indexed) plus its digits reversed
(``digits_rev``, indexed) so that "the last digits" is an index range scan too. Emails keep what was typed and a
normalised form (indexed). ``search_lf``/``search_fl`` hold the case-folded name ("last first middle" and
"first last middle") so that name prefixes are index range scans on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, search_key, utcnow

contact_tags = Table(
    "contact_tag",
    Base.metadata,
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)

company_tags = Table(
    "company_tag",
    Base.metadata,
    Column("company_id", ForeignKey("company.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(search_key(80), unique=True)  # case-folded name


class _ClientRecord:
    """Columns contacts and companies share: ownership, provenance, notes, custom fields, lifecycle."""

    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    city: Mapped[str] = mapped_column(String(120), default="")
    region: Mapped[str] = mapped_column(String(120), default="")
    source: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the import that created the record: what undoing that import removes
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id", ondelete="SET NULL"))


def live_index(name: str, *columns: str) -> Index:
    """A partial index over records that are not deleted: lists filter ``deleted_at IS NULL`` and sort by the
    columns, and both PostgreSQL and SQLite then read the index in order (a plain leading ``deleted_at`` column
    keeps PostgreSQL from using the order)."""
    live = text("deleted_at IS NULL")
    return Index(name, *columns, sqlite_where=live, postgresql_where=live)


class Company(_ClientRecord, Base):
    __tablename__ = "company"
    __table_args__ = (
        live_index("ix_company_live_name", "search_name", "id"),
        live_index("ix_company_live_created", "created_at", "id"),
        live_index("ix_company_live_city", "city", "search_name", "id"),
        Index("ix_company_import_batch", "import_batch_id", sqlite_where=text("import_batch_id IS NOT NULL"),
              postgresql_where=text("import_batch_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    search_name: Mapped[str] = mapped_column(search_key(300), default="")
    industry: Mapped[str] = mapped_column(String(120), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))

    phones: Mapped[list[Phone]] = relationship(back_populates="company", cascade="all, delete-orphan",
                                               order_by="Phone.position")
    emails: Mapped[list[Email]] = relationship(back_populates="company", cascade="all, delete-orphan",
                                               order_by="Email.position")
    tags: Mapped[list[Tag]] = relationship(secondary=company_tags, order_by="Tag.key")
    memberships: Mapped[list[ContactCompany]] = relationship(back_populates="company",
                                                             cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        return self.name


class Contact(_ClientRecord, Base):
    __tablename__ = "contact"
    __table_args__ = (
        live_index("ix_contact_live_lf", "search_lf", "id"),
        live_index("ix_contact_live_fl", "search_fl", "id"),
        live_index("ix_contact_live_created", "created_at", "id"),
        live_index("ix_contact_live_activity", "last_activity_at", "id"),
        live_index("ix_contact_owner_live", "owner_id", "search_lf", "id"),
        # the filters people use most, each kept in name order so a filtered page is a range scan
        live_index("ix_contact_live_city", "city", "search_lf", "id"),
        live_index("ix_contact_live_source", "source", "search_lf", "id"),
        # the id a record had in the system it was imported from (amoCRM, Bitrix24, 1C): matched on re-import
        Index("ix_contact_external_id", "external_id", sqlite_where=text("external_id IS NOT NULL"),
              postgresql_where=text("external_id IS NOT NULL")),
        Index("ix_contact_import_batch", "import_batch_id", sqlite_where=text("import_batch_id IS NOT NULL"),
              postgresql_where=text("import_batch_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(120), default="")
    middle_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    search_lf: Mapped[str] = mapped_column(search_key(400), default="")
    search_fl: Mapped[str] = mapped_column(search_key(400), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    external_id: Mapped[str | None] = mapped_column(String(120))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))

    phones: Mapped[list[Phone]] = relationship(back_populates="contact", cascade="all, delete-orphan",
                                               order_by="Phone.position", lazy="selectin")
    emails: Mapped[list[Email]] = relationship(back_populates="contact", cascade="all, delete-orphan",
                                               order_by="Email.position", lazy="selectin")
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, lazy="selectin", order_by="Tag.key")
    memberships: Mapped[list[ContactCompany]] = relationship(back_populates="contact", cascade="all, delete-orphan",
                                                             lazy="selectin")

    @property
    def display_name(self) -> str:
        return self.name_of(self.first_name, self.middle_name, self.last_name)

    @staticmethod
    def name_of(first_name: str, middle_name: str, last_name: str) -> str:
        """How a person is shown: "Иван Сергеевич Петров" (or a dash when no part is known)."""
        return " ".join(p for p in (first_name, middle_name, last_name) if p) or "—"


class ContactCompany(Base):
    """A person's place in an organisation; a person may belong to several."""

    __tablename__ = "contact_company"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    job_title: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    contact: Mapped[Contact] = relationship(back_populates="memberships")
    company: Mapped[Company] = relationship(back_populates="memberships", lazy="joined", innerjoin=True)


PHONE_KINDS = ("mobile", "work", "home", "fax", "other")
EMAIL_KINDS = ("work", "personal", "other")


class Phone(Base):
    __tablename__ = "phone"
    __table_args__ = (
        CheckConstraint("(contact_id IS NULL) <> (company_id IS NULL)", name="one_owner"),
        Index("ix_phone_e164", "e164"),
        # most phones are people's: an index over the companies' only, which planners then trust
        Index("ix_phone_company_id", "company_id", sqlite_where=text("company_id IS NOT NULL"),
              postgresql_where=text("company_id IS NOT NULL")),
        Index("ix_phone_digits_rev", "digits_rev"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="mobile")
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str | None] = mapped_column(String(20))
    digits_rev: Mapped[str] = mapped_column(search_key(32), default="")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    contact: Mapped[Contact | None] = relationship(back_populates="phones")
    company: Mapped[Company | None] = relationship(back_populates="phones")


class Email(Base):
    __tablename__ = "email"
    __table_args__ = (
        CheckConstraint("(contact_id IS NULL) <> (company_id IS NULL)", name="one_owner"),
        Index("ix_email_normalized", "normalized"),
        Index("ix_email_company_id", "company_id", sqlite_where=text("company_id IS NOT NULL"),
              postgresql_where=text("company_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="work")
    address: Mapped[str] = mapped_column(String(254))
    normalized: Mapped[str] = mapped_column(search_key(254))
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    contact: Mapped[Contact | None] = relationship(back_populates="emails")
    company: Mapped[Company | None] = relationship(back_populates="emails")
