"""``mayak settings``: keys for the secret plugin settings (``MAYAK_SETTINGS_KEYS``)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("settings")
def settings_group() -> None:
    """Plugin settings saved in the admin pages: their encryption keys."""


@settings_group.command("new-key")
def new_key() -> None:
    """Print a new key for MAYAK_SETTINGS_KEYS (put it first, keep the old ones after it, then rotate-key)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@settings_group.command("rotate-key")
@with_appcontext
def rotate_key() -> None:
    """Re-encrypt every secret plugin setting with the first key of MAYAK_SETTINGS_KEYS; the others may then go."""
    from core.db import db
    from core.plugins.settings import SettingsKeyError
    from core.services.platform import plugin_settings

    try:
        count = plugin_settings.rotate_keys()
    except SettingsKeyError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    db.session.commit()
    click.echo(f"{count} secret setting(s) re-encrypted with the first key; the other keys may now be removed "
               "from MAYAK_SETTINGS_KEYS")


SETTINGS_COMMANDS = [settings_group]
