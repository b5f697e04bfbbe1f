"""Generation tokens of the reference data each process keeps in memory (see :mod:`core.reference_cache`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class CacheGeneration(Base):
    """One row per topic (``people``, ``api_tokens``, ``custom_fields``, ``saved_views``): a random token replaced
    in the same transaction as every change to the topic's tables, so a process sees a new token exactly when it
    can see the new data."""

    __tablename__ = "cache_generation"

    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0)
