"""Email notifications: delivers the ``email`` channel of :func:`deliver_notification` (task reminders) through
the SMTP server in ``[plugins.mail_notify]``, in each user's language. Without a ``host`` it stays silent and the
in-app notification is all the user gets."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, has_request_context, request
from flask_babel import force_locale, gettext

from mayak import HealthStatus, User, hookimpl, secret_field
from plugins.mail_notify.settings_form import SmtpForm, UserMailForm, plugin_settings, user_settings

TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Settings:
    """``[plugins.mail_notify]``: ``host`` (empty: off), ``port``, ``security`` (``starttls``, ``ssl`` or
    ``none``), ``username``, ``password = { env = "..." }``, ``sender`` (the From address), ``base_url`` (the
    address users open Mayak at, for links in the mails)."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = secret_field(default="")
    sender: str = ""
    base_url: str = ""

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError("security must be starttls, ssl or none")
        if self.host and "@" not in self.sender:
            raise ValueError("sender must be an email address, such as crm@example.com")
        if not 0 < int(self.port) < 65536:
            raise ValueError("port must be between 1 and 65535")


def settings() -> Settings:
    """The SMTP settings: those saved in Administration → Plugins → mail_notify over ``[plugins.mail_notify]``."""
    return plugin_settings("mail_notify")  # type: ignore[no-any-return]


@hookimpl
def plugin_settings_form() -> type[SmtpForm]:
    return SmtpForm


@hookimpl
def user_settings_form() -> type[UserMailForm]:
    return UserMailForm


def compose(conf: Settings, user: User, message: str, params: dict[str, object], link: str | None) -> EmailMessage:
    locale = user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    with force_locale(locale):
        text = gettext(message, **params)
        footer = gettext("Open in Mayak: %(url)s", url=_absolute(conf, link)) if link else ""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = conf.sender, user.email, text[:200]
    mail["Message-ID"] = make_msgid(domain=conf.sender.rpartition("@")[2])
    mail.set_content(f"{text}\n\n{footer}".strip() + "\n")
    return mail


def _absolute(conf: Settings, link: str | None) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link or ""
    base = conf.base_url.rstrip("/") or (request.host_url.rstrip("/") if has_request_context() else "")
    return f"{base}{link}"


def send(conf: Settings, mail: EmailMessage) -> None:
    context = ssl.create_default_context()
    if conf.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(conf.host, conf.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        server = smtplib.SMTP(conf.host, conf.port, timeout=TIMEOUT_SECONDS)
    with server:
        if conf.security == "starttls":
            server.starttls(context=context)
        if conf.username:
            server.login(conf.username, conf.password)
        server.send_message(mail)


@hookimpl
def deliver_notification(channel: str, user: User, message: str, params: dict[str, object],
                         link: str | None) -> bool | None:
    conf = settings()
    if channel != "email" or not conf.host:
        return None
    mine = user_settings("mail_notify", user)
    if mine.off:
        return None
    mail = compose(conf, user, message, params, link)
    if mine.address:
        mail.replace_header("To", mine.address)
    send(conf, mail)
    return True


@hookimpl
def plugin_health() -> HealthStatus | None:
    conf = settings()
    if conf.host:
        return HealthStatus(True, f"SMTP {conf.host}:{conf.port}")
    return HealthStatus(True, gettext("no SMTP host set: reminders stay in the app"))
