"""Flask extensions, created unbound and initialised in :func:`core.create_app` (the init_app pattern)."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from core.db import db

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

__all__ = ["babel", "csrf", "db", "login_manager"]
