"""``mayak files``: where stored files (attachments, recordings, import uploads, exports) are kept."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import StartupError

KINDS = ("local", "s3")


@click.group("files")
def files_group() -> None:
    """Stored files: attachments, call recordings, uploaded import files and exports."""


@files_group.command("move")
@click.option("--to", "target_kind", type=click.Choice(KINDS), required=True, help="the storage to copy into")
@click.option("--from", "source_kind", type=click.Choice(KINDS), default=None,
              help="the storage to copy from (default: the other one)")
@click.option("--delete-source", is_flag=True, help="delete each file from the source once its copy is checked")
@with_appcontext
def move(target_kind: str, source_kind: str | None, delete_source: bool) -> None:
    """Copy every stored file from one storage to the other, checking each copy; run again to resume.

    Both are read from the environment: local is MAYAK_INSTANCE_PATH, s3 the MAYAK_S3_* settings. Switch
    MAYAK_STORAGE once the move has copied everything."""
    from core.services.platform import storage
    from core.services.platform.storage import moving

    source_kind = source_kind or next(k for k in KINDS if k != target_kind)
    if source_kind == target_kind:
        raise click.UsageError("--from and --to name the same storage")
    settings = current_app.extensions["mayak.settings"]
    try:
        storage.check(settings, source_kind)
        storage.check(settings, target_kind)
        source, target = storage.backend(settings, source_kind), storage.backend(settings, target_kind)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"copying from {source.describe()} to {target.describe()}")
    seen = 0

    def progress(key: str, outcome: str) -> None:
        nonlocal seen
        seen += 1
        if seen % 500 == 0:
            click.echo(f"... {seen} files looked at")

    report = moving.move(source, target, delete_source=delete_source, progress=progress)
    for key, reason in report.failed:
        click.echo(f"failed: {key}: {reason}", err=True)
    click.echo(f"copied {report.copied} ({report.copied_bytes / 1024 / 1024:.1f} MB), skipped {report.skipped} "
               f"already there, failed {len(report.failed)}"
               + (f", deleted {report.deleted} from the source" if delete_source else ""))
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} file(s) were not moved; run the command again to retry "
                                   "them")
    if settings.storage.kind != target_kind:
        click.echo(f"everything is copied: set MAYAK_STORAGE={target_kind} and restart Mayak")


STORAGE_COMMANDS = [files_group]
