"""The import wizard: upload → sheet and header row → columns to fields (suggested, or from a saved mapping) →
preview by dry run → run as a job with a progress bar → result with the error report and undo."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, abort, current_app, flash, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from core import jobs
from core.db import db
from core.models import ImportBatch
from core.plugins.facades import import_formats
from core.plugins.types import ImportFileError
from core.services.clients import custom_fields
from core.services.platform.errors import InvalidInput
from core.services.transfer import import_mapping, imports
from core.web.context import actor
from core.web.forms import EmptyForm
from core.web.htmx import is_htmx, redirect, render

bp = Blueprint("imports", __name__, url_prefix="/imports")
PREVIEW_PAGE = 100


def _batch(batch_id: int) -> ImportBatch:
    try:
        return imports.get(actor(), batch_id)
    except LookupError:
        abort(404)


def _accept() -> str:
    return ",".join(ext for f in import_formats() for ext in f.extensions)


def _index(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    # formdata=None: this page also answers an upload too large to read, whose form must not be parsed
    return render("imports/index.html", status=status, batches=imports.recent(actor()), form=EmptyForm(formdata=None),
                  error=error, accept=_accept(), limit_mb=current_app.config["MAX_CONTENT_LENGTH"] // 2**20)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return _index()


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    size = (request.content_length or 0) / 2**20
    limit = current_app.config["MAX_CONTENT_LENGTH"] // 2**20
    return _index(_("The file is %(size).0f MB; uploads are limited to %(limit)s MB. Split it into parts, or "
                    "import it on the server with “mayak import contacts FILE”, which has no limit.",
                    size=size, limit=limit), 413)


@bp.post("/")
def upload():  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    file = request.files.get("file")
    if file is None or not file.filename:
        return _index(_("Choose a file to import."), 422)
    try:
        batch = imports.upload(actor(), file.stream, file.filename)
    except ImportFileError as exc:
        return _index(str(exc.message), 422)
    return redirect(url_for("imports.show", batch_id=batch.id))


def _setup_context(batch: ImportBatch, errors: dict[str, str] | None = None) -> dict[str, Any]:
    sheet = request.args.get("sheet") or batch.sheet
    header_row = request.args.get("header_row", type=int) or batch.header_row
    try:
        layout = imports.layout(batch, sheet, header_row)
    except ImportFileError as exc:
        layout, errors = None, {**(errors or {}), "file": str(exc.message)}
    mapping = list(batch.mapping)
    if layout is not None and (layout.sheet != batch.sheet or layout.header_row != batch.header_row):
        mapping = [s.field for s in import_mapping.suggest(layout.columns, custom_fields.definitions("contact"))]
    profile_id = request.args.get("profile", type=int)
    profile = next((p for p in imports.profiles() if p.id == profile_id), None)
    if profile is not None and layout is not None:
        mapping = [profile.fields.get(imports.title_key(t)) for t in layout.columns]
    after = request.args.get("after", 0, type=int)
    return {"batch": batch, "layout": layout, "mapping": mapping, "errors": errors or {}, "form": EmptyForm(),
            "fields": import_mapping.field_labels(custom_fields.definitions("contact")),
            "profiles": imports.profiles(), "profile": profile,
            "preview": imports.outcomes(batch, after, PREVIEW_PAGE) if batch.status == "previewed" else [],
            "message": imports.message, "job": jobs.get(batch.job_id) if batch.job_id else None}


@bp.get("/<int:batch_id>")
def show(batch_id: int):  # type: ignore[no-untyped-def]
    batch = _batch(batch_id)
    if batch.status in ("draft", "previewed") or (batch.dry_run and batch.status in ("queued", "running")):
        context = _setup_context(batch)
        return render("imports/setup.html", "mapping" if request.args.get("part") == "mapping" else None, **context)
    return _result(batch)


def _result(batch: ImportBatch):  # type: ignore[no-untyped-def]
    rows = list(imports.problems(batch, limit=50))
    return render("imports/result.html", batch=batch,
                  job=jobs.get(batch.job_id) if batch.job_id else None, rows=rows, message=imports.message,
                  form=EmptyForm())


@bp.get("/<int:batch_id>/status")
def status(batch_id: int):  # type: ignore[no-untyped-def]
    """Polled while the job runs: once it is done the page reloads with the outcome."""
    batch = _batch(batch_id)
    db.session.refresh(batch)
    if batch.status in ("queued", "running"):
        job = jobs.get(batch.job_id) if batch.job_id else None
        return render_template("imports/_progress.html", batch=batch, job=job)
    response = redirect(url_for("imports.show", batch_id=batch.id))
    if is_htmx():
        response.headers["HX-Refresh"] = "true"
    return response


def _values(form: Any, columns: int) -> dict[str, Any]:
    return {"sheet": form.get("sheet"), "header_row": form.get("header_row"),
            "mapping": [form.get(f"map_{i}", "") for i in range(columns)],
            "on_duplicate": form.get("on_duplicate"), "region": form.get("region"),
            "keep_invalid": form.get("invalid", "keep") == "keep"}


@bp.post("/<int:batch_id>")
def start(batch_id: int):  # type: ignore[no-untyped-def]
    batch = _batch(batch_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        columns = int(request.form.get("columns", "0"))
    except ValueError:
        abort(400)
    try:
        imports.configure(actor(), batch, _values(request.form, min(columns, 500)))
        profile_name = request.form.get("profile_name", "").strip()
        if profile_name:
            imports.save_profile(actor(), batch, profile_name)
        imports.start(actor(), batch, dry_run=request.form.get("action") == "preview")
    except InvalidInput as exc:
        db.session.rollback()
        errors = {key: str(value) for key, value in exc.errors.items()}
        return render("imports/setup.html", status=422, **_setup_context(batch, errors))
    return redirect(url_for("imports.show", batch_id=batch.id))


@bp.post("/<int:batch_id>/undo")
def undo(batch_id: int):  # type: ignore[no-untyped-def]
    batch = _batch(batch_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        result = imports.undo(actor(), batch)
    except InvalidInput as exc:
        flash("; ".join(str(v) for v in exc.errors.values()), "danger")
    else:
        flash(_("The import is undone: %(deleted)s contacts removed (they are in the bin), %(restored)s restored.",
                deleted=result["deleted"], restored=result["restored"]), "success")
    return redirect(url_for("imports.show", batch_id=batch.id))


@bp.post("/<int:batch_id>/resume")
def resume(batch_id: int):  # type: ignore[no-untyped-def]
    batch = _batch(batch_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        imports.start(actor(), batch, dry_run=batch.dry_run)
    except InvalidInput as exc:
        flash("; ".join(str(v) for v in exc.errors.values()), "danger")
    return redirect(url_for("imports.show", batch_id=batch.id))


@bp.get("/<int:batch_id>/report.xlsx")
def report(batch_id: int):  # type: ignore[no-untyped-def]
    batch = _batch(batch_id)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to send_file
    imports.error_report(batch, spool)
    spool.seek(0)
    return send_file(spool, as_attachment=True, download_name=f"import-{batch.id}-problems.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
