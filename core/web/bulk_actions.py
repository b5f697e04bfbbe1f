"""The bulk actions of the client lists (contacts, companies): one handler for the selected rows — give to another
owner, add tags, delete with undo, merge (contacts), export — and the undo of a bulk delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from core.services.platform import params
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.web import clients
from core.web.context import actor, safe_next, user
from core.web.forms import EmptyForm

MAX_SELECTED = 1000


@dataclass(frozen=True)
class BulkList:
    kind: str  # contact, company
    collection: str  # contacts, companies (URLs, exports, the undo key)
    service: Any  # a module with delete, restore, reassign, add_tags
    index_endpoint: str
    merge_endpoint: str | None = None

    @property
    def undo_key(self) -> str:
        return f"undo_{self.collection}"


def _done(bulk: BulkList, what: str, n: int) -> str:
    messages = {
        ("contact", "deleted"): ngettext("%(num)d contact deleted.", "%(num)d contacts deleted.", n),
        ("contact", "restored"): ngettext("%(num)d contact restored.", "%(num)d contacts restored.", n),
        ("contact", "reassigned"): ngettext("%(num)d contact reassigned.", "%(num)d contacts reassigned.", n),
        ("contact", "tagged"): ngettext("%(num)d contact tagged.", "%(num)d contacts tagged.", n),
        ("company", "deleted"): ngettext("%(num)d company deleted.", "%(num)d companies deleted.", n),
        ("company", "restored"): ngettext("%(num)d company restored.", "%(num)d companies restored.", n),
        ("company", "reassigned"): ngettext("%(num)d company reassigned.", "%(num)d companies reassigned.", n),
        ("company", "tagged"): ngettext("%(num)d company tagged.", "%(num)d companies tagged.", n),
    }
    return messages[(bulk.kind, what)]


def _back(bulk: BulkList):  # type: ignore[no-untyped-def]
    return redirect(safe_next(request.form.get("next"), url_for(bulk.index_endpoint)))


def handle(bulk: BulkList):  # type: ignore[no-untyped-def]
    """POST of the list's bulk form: the action on the selected rows, each record checked on its own."""
    require(user(), "view", bulk.kind)
    if not EmptyForm().validate_on_submit():
        abort(400)
    ids = params.record_ids("ids", request.form.getlist("ids")[:MAX_SELECTED])
    action = request.form.get("action")
    if not ids and action:
        flash(_("Select the rows first."), "warning")
        return _back(bulk)
    try:
        if action == "delete":
            done = bulk.service.delete(actor(), ids)
            flash(_done(bulk, "deleted", len(done)), "success")
            if done:
                session[bulk.undo_key] = done[:MAX_SELECTED]
                flash(_("Changed your mind? Use Undo delete above the list."), "info")
        elif action == "restore":
            flash(_done(bulk, "restored", len(bulk.service.restore(actor(), ids))), "success")
        elif action == "reassign":
            owner = request.form.get("owner_id", "")
            done = bulk.service.reassign(actor(), ids, params.optional_id("owner_id", owner) or 0)
            flash(_done(bulk, "reassigned", len(done)), "success")
        elif action == "tag":
            done = bulk.service.add_tags(actor(), ids, request.form.get("tags", "").split(","))
            flash(_done(bulk, "tagged", len(done)), "success")
        elif action == "merge" and bulk.merge_endpoint:
            return redirect(url_for(bulk.merge_endpoint, ids=ids))
        elif action == "export":
            require(user(), "export", bulk.kind)
            return redirect(url_for("exports.download", entity=bulk.collection, format="xlsx", id=ids))
        else:
            flash(_("Choose what to do with the selected rows."), "warning")
    except InvalidInput as exc:
        flash(next(iter(clients.form_errors(exc.errors).values())), "danger")
    return _back(bulk)


def undo_delete(bulk: BulkList):  # type: ignore[no-untyped-def]
    """Bring back what the last bulk delete of this list removed."""
    require(user(), "view", bulk.kind)
    if not EmptyForm().validate_on_submit():
        abort(400)
    done = bulk.service.restore(actor(), session.pop(bulk.undo_key, []))
    flash(_done(bulk, "restored", len(done)), "success")
    return _back(bulk)
