"""``mayak import`` and ``mayak export``: big migrations from the server's shell, on the same engine as the web."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


def _actor(email: str | None):  # type: ignore[no-untyped-def]
    """Who the command acts as: ``--user``, or the first active administrator."""
    from sqlalchemy import select

    from core.db import db
    from core.models import User
    from core.services.platform.context import Actor
    from core.services.users import accounts

    if email:
        user = accounts.find_by_email(email)
    else:
        user = db.session.scalar(select(User).where(User.is_admin.is_(True), User.is_active.is_(True))
                                 .order_by(User.id))
    if user is None or not user.is_active:
        raise click.ClickException(f"no active user {email}" if email else "no active administrator: use --user")
    return Actor(user, via="cli")


def _fail(message: object) -> None:
    raise click.ClickException(str(message))


@click.group("import")
def import_group() -> None:
    """Import contacts from XLSX, CSV or vCard files (and undo an import)."""


@import_group.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet", help="the sheet to read (default: the first)")
@click.option("--header-row", type=int, help="the row holding the column names (default: found)")
@click.option("--mapping", default="auto", show_default=True, help="a saved mapping profile's name, or auto")
@click.option("--on-duplicate", type=click.Choice(["skip", "update", "overwrite"]), default="skip",
              show_default=True, help="what to do with a row matching a contact by phone, email or external id")
@click.option("--region", help="country of numbers written without a code (default: the installation's)")
@click.option("--skip-invalid", is_flag=True, help="do not import rows with a bad phone, email or date")
@click.option("--dry-run", is_flag=True, help="say what would happen; write no contact")
@click.option("--user", "email", help="act as this user (default: the first administrator)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@with_appcontext
def import_contacts(file: Path, sheet: str | None, header_row: int | None, mapping: str, on_duplicate: str,
                    region: str | None, skip_invalid: bool, dry_run: bool, email: str | None, as_json: bool) -> None:
    """Import contacts from FILE."""
    from core.plugins.types import ImportFileError
    from core.services.platform.errors import InvalidInput
    from core.services.transfer import imports

    actor = _actor(email)
    try:
        with file.open("rb") as stream:
            batch = imports.upload(actor, stream, file.name)
        values: dict[str, object] = {"sheet": sheet, "header_row": header_row, "on_duplicate": on_duplicate,
                                     "region": region, "keep_invalid": not skip_invalid}
        if mapping != "auto":
            profile = imports.profile_named(mapping)
            if profile is None:
                _fail(f"no mapping profile {mapping!r}; saved: {', '.join(p.name for p in imports.profiles()) or '-'}")
            assert profile is not None
            if sheet or header_row:
                imports.configure(actor, batch, {k: v for k, v in values.items() if k in ("sheet", "header_row")})
            values["mapping"] = imports.apply_profile(batch, profile)
        imports.configure(actor, batch, values)
        progress = None if as_json or not sys.stderr.isatty() else (
            lambda done, total: click.echo(f"\r{done} rows…", nl=False, err=True))
        batch = imports.run_now(actor, batch, dry_run=dry_run, progress=progress)
    except ImportFileError as exc:
        _fail(exc.message)
    except InvalidInput as exc:
        _fail("; ".join(f"{field}: {message}" for field, message in exc.errors.items()))
    result = imports.summary(batch)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    click.echo(f"batch {result['batch']}{' (dry run)' if dry_run else ''}: {result['rows']} rows, "
               f"{result['created']} created, {result['updated']} updated, {result['merged']} merged, "
               f"{result['skipped_duplicates']} skipped as duplicates, {result['failed']} failed, "
               f"{result['flagged']} imported with a flagged value")
    for error in result["errors"][:20]:
        click.echo(f"  row {error['row']} {error['field']}: {error['message']}")
    if len(result["errors"]) > 20:
        click.echo(f"  … {len(result['errors']) - 20} more (--json lists them all)")


@import_group.command("undo")
@click.argument("batch_id", type=int)
@click.option("--user", "email", help="act as this user (default: the first administrator)")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def import_undo(batch_id: int, email: str | None, as_json: bool) -> None:
    """Revert import BATCH_ID: remove what it created, restore what it changed."""
    from core.services.platform.errors import InvalidInput
    from core.services.transfer import imports

    actor = _actor(email)
    try:
        result = imports.undo(actor, imports.get(actor, batch_id))
    except LookupError:
        _fail(f"no import {batch_id}")
    except InvalidInput as exc:
        _fail("; ".join(str(m) for m in exc.errors.values()))
    if as_json:
        click.echo(json.dumps({"batch": batch_id, **result}))
    else:
        click.echo(f"import {batch_id} undone: {result['deleted']} contacts and {result['deleted_companies']} "
                   f"companies removed, {result['restored']} contacts restored")


@import_group.command("resume")
@click.argument("batch_id", type=int)
@click.option("--user", "email", help="act as this user (default: the first administrator)")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def import_resume(batch_id: int, email: str | None, as_json: bool) -> None:
    """Go on with import BATCH_ID from the row after the last one it finished (after a crash or a kill)."""
    from core.plugins.types import ImportFileError
    from core.services.transfer import imports

    actor = _actor(email)
    try:
        batch = imports.run(imports.get(actor, batch_id).id)
    except LookupError:
        _fail(f"import {batch_id} does not exist or has nothing left to do")
    except ImportFileError as exc:
        _fail(exc.message)
    result = imports.summary(batch)
    click.echo(json.dumps(result, ensure_ascii=False, indent=1) if as_json else
               f"import {batch_id} finished: {result['rows']} rows, {result['created']} created, "
               f"{result['failed']} failed")


@click.command("export")
@click.argument("entity", type=click.Choice(["contacts", "companies", "deals", "tasks"]))
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "vcard"]), default="xlsx", show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "cp1251"]), default="utf-8", show_default=True,
              help="CSV only: UTF-8 with BOM, or Windows-1251 for old Excel and 1C")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--user", "email", help="export what this user may see (default: the first administrator)")
@with_appcontext
def export_command(entity: str, fmt: str, encoding: str, out: Path, email: str | None) -> None:
    """Export everything the user may see of ENTITY to a file."""
    from core.services.clients import listing
    from core.services.platform.access import AccessDenied
    from core.services.transfer import export

    actor = _actor(email)
    try:
        count = export.write(entity, fmt, actor, listing.ListQuery(), out,
                             encoding="cp1251" if encoding == "cp1251" else "utf-8-sig")
    except ValueError as exc:
        _fail(exc)
    except AccessDenied:
        _fail(f"{actor.label} may not export {entity}")
    click.echo(f"exported {count} {entity} to {out}")


TRANSFER_COMMANDS = [import_group, export_command]
