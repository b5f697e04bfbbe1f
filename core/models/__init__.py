"""Core models, one module per aggregate. Importing this package registers every core table."""

from core.models.audit import AuditEntry
from core.models.auth import LoginFailure
from core.models.base import Base, UTCDateTime, utcnow
from core.models.jobs import EventDelivery, JobRecord, OutboxEvent, ScheduleState
from core.models.notifications import Notification
from core.models.users import Role, RoleGrant, Team, User

__all__ = [
    "AuditEntry",
    "Base",
    "EventDelivery",
    "JobRecord",
    "LoginFailure",
    "Notification",
    "OutboxEvent",
    "Role",
    "RoleGrant",
    "ScheduleState",
    "Team",
    "UTCDateTime",
    "User",
    "utcnow",
]
