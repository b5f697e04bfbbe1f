"""``mayak backup`` and ``mayak restore``: the database and every stored file in one archive, and back
(see docs/backup.md; the work is :mod:`core.services.platform.backup`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from core.db import own_transactions


def _version() -> str:
    """The installed Mayak's version (the package's metadata: importing ``core`` for it would be a circle)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mayak-crm")
    except PackageNotFoundError:
        return "0+unknown"


def _where(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB"


def _rows_text(rows: dict[str, int], limit: int = 6) -> str:
    biggest = sorted(rows.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{count} {name}" for name, count in biggest[:limit])
    more = f", … {len(biggest) - limit} more tables" if len(biggest) > limit else ""
    return f"{sum(rows.values())} rows: {shown}{more}"


@own_transactions
@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="replace TARGET when it exists")
@with_appcontext
def backup_command(target: Path, overwrite: bool) -> None:
    """Write the database and every stored file into one archive: TARGET.tar, TARGET.tar.gz, or a folder (which
    gets mayak-backup-<UTC time>.tar). Safe while Mayak runs. Secrets are not included: see docs/backup.md."""
    import core.migrate as migrate
    from core.db import db
    from core.services.platform import backup, storage

    settings = current_app.extensions["mayak.settings"]
    try:
        path = backup.archive_path(target)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if path.exists() and not overwrite:
        raise click.ClickException(f"{path} exists: give another name, a folder, or --overwrite")
    revisions = migrate.current_revisions()
    db.session.remove()
    store = storage.current()
    click.echo(f"backing up {_where(settings.database_url)} and the files in {store.describe()} to {path}")
    try:
        report = backup.create(path, database_url=settings.database_url, store=store, revisions=revisions,
                               version=_version(), progress=click.echo)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for key in report.skipped:
        click.echo(f"skipped {key}: deleted while the backup ran")
    click.echo(f"wrote {path}: {report.rows} rows in {len(report.manifest['database']['rows'])} tables, "
               f"{report.files} files ({_size(report.file_bytes)}), {_size(path.stat().st_size)} in all")


def _check_revisions(manifest: dict[str, object]) -> list[str]:
    """Refuse an archive made by a newer Mayak (a revision this code does not know); the warnings to show."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    import core.migrate as migrate

    known = {unit.name: unit for unit in migrate.units()}
    warnings = []
    revisions = manifest["revisions"]
    assert isinstance(revisions, dict)
    for name, revision in revisions.items():
        unit = known.get(name)
        if unit is None:
            warnings.append(f"the archive holds the tables of plugin {name}, which is not enabled here: they are "
                            "restored, and used once it is enabled")
            continue
        if revision is None:
            continue
        try:
            found = ScriptDirectory.from_config(migrate.alembic_config(unit)).get_revision(revision)
        except CommandError:
            found = None
        if found is None:
            raise click.ClickException(
                f"the archive was made by a newer Mayak ({name} is at revision {revision}, unknown here): upgrade "
                f"Mayak (it was {manifest.get('mayak_version')}) before restoring it")
    return warnings


def _older_units() -> list[str]:
    from alembic.script import ScriptDirectory

    import core.migrate as migrate

    current = migrate.current_revisions()
    older = []
    for unit in migrate.units():
        heads = set(ScriptDirectory.from_config(migrate.alembic_config(unit)).get_heads())
        if current.get(unit.name) not in heads:
            older.append(unit.name)
    return older


def _upgrade() -> list[str]:
    """What ``mayak db upgrade`` does: the migrations, then the default roles and pipeline."""
    import core.migrate as migrate
    from core.db import unit_of_work
    from core.plugins import facades
    from core.services.users import accounts
    from core.services.work import deals

    upgraded = migrate.upgrade()
    with unit_of_work():
        accounts.ensure_default_roles(facades.registry().permissions.values())
        deals.ensure_default_pipeline(facades.country_rules().currency)
    return upgraded


@own_transactions
@click.command("restore")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="replace a database that holds data")
@with_appcontext
def restore_command(archive: Path, force: bool) -> None:
    """Put a `mayak backup` archive back into this installation: the files into the configured storage (local or
    S3, whatever the archive came from), then the database, then the migrations when the archive is older. Stop
    Mayak (web, workers, scheduler) first. Refuses a database that holds data unless --force."""
    from core import reference_cache
    from core.db import db
    from core.services.platform import backup, storage

    settings = current_app.extensions["mayak.settings"]
    url = settings.database_url
    try:
        manifest = backup.read_manifest(archive)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    warnings = _check_revisions(manifest)
    if manifest["database"]["kind"] != backup.database_kind(url):
        raise click.ClickException(
            f"the archive holds a {manifest['database']['kind']} database and MAYAK_DATABASE_URL names a "
            f"{backup.database_kind(url)} one: restore into {manifest['database']['kind']}")
    with db.engine.connect() as conn:
        held = backup.data_rows(backup.current_rows(conn))
    db.session.remove()
    store = storage.current()
    if held and not force:
        raise click.ClickException(
            f"the database {_where(url)} holds data ({_rows_text(held)}): restoring replaces it; give --force to "
            "replace it")
    click.echo(f"archive of {manifest['created_at']} (Mayak {manifest['mayak_version']}, "
               f"{manifest['database']['kind']}, {manifest['storage']['kind']} storage)")
    if held:
        click.echo(f"--force: replacing the database {_where(url)} ({_rows_text(held)}); files go into "
                   f"{store.describe()}, over those with the same names (others stay)")
    for line in warnings:
        click.echo(f"warning: {line}")
    try:
        backup.verify(archive, manifest, progress=click.echo)
        click.echo(f"checked {len(manifest['members'])} members against the manifest: all intact")

        def dispose() -> None:
            db.session.remove()
            db.engine.dispose()

        report = backup.restore(archive, manifest, database_url=url, store=store, dispose=dispose,
                                progress=click.echo)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    db.engine.dispose()
    reference_cache.forget_all()  # ids and tokens are the archive's now
    click.echo(f"restored {report.rows} rows in {report.tables} tables and {report.files} files "
               f"({_size(report.file_bytes)})")
    older = _older_units()
    if older:
        click.echo(f"the archive is older than this Mayak ({', '.join(older)}): migrating")
        for unit in _upgrade():
            click.echo(f"migrated {unit}")


BACKUP_COMMANDS = [backup_command, restore_command]
