"""Core models, one module per aggregate. Importing this package registers every core table."""

from core.models.activities import ACTIVITY_KINDS, Activity, Attachment
from core.models.api import ApiToken
from core.models.audit import AuditEntry
from core.models.auth import ThrottleCounter
from core.models.base import Base, UTCDateTime, utcnow
from core.models.cache import CacheGeneration
from core.models.calls import Call, OwnNumber
from core.models.contacts import Company, Contact, ContactCompany, Email, Phone, Tag
from core.models.custom_fields import CustomField
from core.models.deals import Deal, DealItem, Payment, Pipeline, Stage, StageChange, StageTotal
from core.models.imports import ImportBatch, ImportProfile, ImportRow
from core.models.inbox import AssignmentRule, ChannelSetting, InboxItem, LeadForm
from core.models.jobs import EventDelivery, JobRecord, Lease, OutboxEvent, ProcessBeat, ScheduleState
from core.models.notifications import Notification
from core.models.plugin_settings import PluginSetting, UserPluginSetting
from core.models.providers import ProviderChoice
from core.models.tasks import OwnerChange, Task, TaskComment, TaskRecurrence
from core.models.users import Role, RoleGrant, Team, User
from core.models.views import SavedView
from core.models.webhooks import WebhookDelivery

__all__ = [
    "ACTIVITY_KINDS",
    "Activity",
    "ApiToken",
    "AssignmentRule",
    "Attachment",
    "AuditEntry",
    "Base",
    "CacheGeneration",
    "Call",
    "ChannelSetting",
    "Company",
    "Contact",
    "ContactCompany",
    "CustomField",
    "Deal",
    "DealItem",
    "Email",
    "EventDelivery",
    "ImportBatch",
    "ImportProfile",
    "ImportRow",
    "InboxItem",
    "JobRecord",
    "LeadForm",
    "Lease",
    "Notification",
    "OutboxEvent",
    "OwnNumber",
    "OwnerChange",
    "Payment",
    "Phone",
    "Pipeline",
    "PluginSetting",
    "ProcessBeat",
    "ProviderChoice",
    "Role",
    "RoleGrant",
    "SavedView",
    "ScheduleState",
    "Stage",
    "StageChange",
    "StageTotal",
    "Tag",
    "Task",
    "TaskComment",
    "TaskRecurrence",
    "Team",
    "ThrottleCounter",
    "UTCDateTime",
    "User",
    "UserPluginSetting",
    "WebhookDelivery",
    "utcnow",
]

CORE_TABLES = frozenset(Base.metadata.tables)
"""The core's tables, taken when the core's models are imported and before any plugin model adds its own (plugin
names must not claim them: :func:`core.plugins.manager.check_name`)."""
