"""The public model API for plugins: the declarative base, the UTC timestamp type and the session.

Plugin tables must be named ``<plugin>_<name>`` and created by the plugin's own migrations.
"""

from core.db import db
from core.models.base import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "db", "utcnow"]
