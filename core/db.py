"""The Flask-SQLAlchemy handle. Kept apart from the other extensions so services can use it without
importing anything web-specific."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy

from core.models.base import Base

db = SQLAlchemy(model_class=Base)
