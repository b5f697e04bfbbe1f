"""The time zone a user thinks in: their own setting, else the installation's default."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from core.models import User


def zone_of(user: User | None) -> ZoneInfo:
    name = (user.timezone if user is not None else None) or current_app.extensions["mayak.settings"].default_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and ends in ``zone``."""
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_today(user: User | None, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone_of(user)).date()
