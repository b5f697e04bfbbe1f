"""Sales pipelines, their ordered stages, deals moving through them, line items, payments, stage history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, search_key, utcnow
from core.models.contacts import live_index

STAGE_KINDS = ("open", "won", "lost")
CHANNELS = ("phone", "email", "web_form", "messenger", "visit", "other")


class Pipeline(Base):
    __tablename__ = "pipeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    archived: Mapped[bool] = mapped_column(default=False)
    # why deals are lost, offered when a deal moves to a lost stage; empty: any reason may be typed
    lost_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)

    stages: Mapped[list[Stage]] = relationship(back_populates="pipeline", order_by="Stage.position",
                                               cascade="all, delete-orphan", lazy="selectin")


class Stage(Base):
    __tablename__ = "stage"
    __table_args__ = (UniqueConstraint("pipeline_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default="open")
    position: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(Integer, default=0)

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")


class Deal(Base):
    __tablename__ = "deal"
    __table_args__ = (
        Index("ix_deal_board", "pipeline_id", "stage_id", "id", postgresql_where=text("deleted_at IS NULL"),
              sqlite_where=text("deleted_at IS NULL")),
        Index("ix_deal_contact", "contact_id"),
        Index("ix_deal_company", "company_id"),
        Index("ix_deal_owner_live", "owner_id", "id", postgresql_where=text("deleted_at IS NULL"),
              sqlite_where=text("deleted_at IS NULL")),
        # the deal list's sorts and title search
        live_index("ix_deal_live_title", "search_title", "id"),
        live_index("ix_deal_live_created", "created_at", "id"),
        live_index("ix_deal_live_amount", "amount", "id"),
        # the board's count and sum per stage, read from the index alone
        live_index("ix_deal_stage_amount", "pipeline_id", "stage_id", "amount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    search_title: Mapped[str] = mapped_column(search_key(300), default="")
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(120), default="")
    channel: Mapped[str] = mapped_column(String(20), default="other")
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expected_close: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[int | None] = mapped_column(Integer)
    lost_reason: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    stage: Mapped[Stage] = relationship(lazy="joined")
    items: Mapped[list[DealItem]] = relationship(back_populates="deal", cascade="all, delete-orphan",
                                                 order_by="DealItem.position")
    payments: Mapped[list[Payment]] = relationship(back_populates="deal", cascade="all, delete-orphan",
                                                   order_by="Payment.paid_at")


class DealItem(Base):
    """A product or service line of a deal."""

    __tablename__ = "deal_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    deal: Mapped[Deal] = relationship(back_populates="items")


class Payment(Base):
    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    deal: Mapped[Deal] = relationship(back_populates="payments")


class StageChange(Base):
    """Who moved a deal from which stage to which, and when."""

    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_deal", "deal_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StageTotal(Base):
    """How many live deals each owner has in a stage and what they add up to, kept up to date with every change
    of a deal (see :mod:`core.services.work.deal_totals`) so the board shows exact counts and sums without reading a
    million deals. ``owner_id`` 0 stands for deals without an owner."""

    __tablename__ = "deal_stage_total"

    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="CASCADE"), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
