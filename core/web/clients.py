"""What the contact and company pages share: reading the card form, the owner list, list-page context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from core.models import User
from core.services.clients import custom_fields, listing
from core.services.platform import views
from core.services.platform.access import require
from core.services.users import directory
from core.services.users.directory import Person
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import fragment, is_htmx, render


def _rows(form: MultiDict[str, str], *names: str) -> list[dict[str, str]]:
    columns = [form.getlist(name) for name in names]
    width = max((len(c) for c in columns), default=0)
    return [{name.split("_", 1)[1]: (col[i] if i < len(col) else "") for name, col in zip(names, columns, strict=True)}
            for i in range(width)]


def values_from_form(entity: str, form: MultiDict[str, str], text_fields: tuple[str, ...]) -> dict[str, Any]:
    """The service's ``values`` dict from a submitted card form (repeatable rows as parallel lists)."""
    values: dict[str, Any] = {name: form.get(name, "") for name in text_fields if name in form}
    for name in ("notes", "birthday", "owner_id"):
        if name in form:
            values[name] = form.get(name, "")
    values["phones"] = _rows(form, "phone_raw", "phone_kind")
    values["emails"] = _rows(form, "email_address", "email_kind")
    values["tags"] = [t for t in (form.get("tags", "").split(",")) if t.strip()]
    if entity == "contact":
        values["companies"] = _rows(form, "company_id", "company_title")
        for row in values["companies"]:
            row["company_id"], row["job_title"] = row.pop("id", ""), row.pop("title", "")
    custom: dict[str, Any] = {}
    for field in custom_fields.definitions(entity):
        name = f"custom.{field.key}"
        if field.type == "multichoice":
            custom[field.key] = form.getlist(name)
        elif field.type == "boolean":
            custom[field.key] = form.get(name, "") in ("1", "on", "y", "yes")
        elif name in form:
            custom[field.key] = form.get(name, "")
    values["custom"] = custom
    return values


def assignable_users() -> list[Person]:
    """Active users for owner pickers and names."""
    return directory.active_people()


def list_query(spec: listing.EntityList | None = None) -> listing.ListQuery:
    """The list this address asks for; names that are no filter of ``spec``'s list are dropped."""
    return listing.ListQuery.from_args(request.args, spec)


def form_errors(errors: dict[str, Any]) -> dict[str, str]:
    return {key: str(message) for key, message in errors.items()}


def form_rows(record: Any, values: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The repeatable rows a card form shows: what was typed (after an error) or what is stored."""
    if values is not None:
        return {"phones": list(values.get("phones") or []), "emails": list(values.get("emails") or []),
                "companies": list(values.get("companies") or [])}
    if record is None:
        return {"phones": [], "emails": [], "companies": []}
    return {
        "phones": [{"raw": p.raw, "kind": p.kind} for p in record.phones],
        "emails": [{"address": e.address, "kind": e.kind} for e in record.emails],
        "companies": [{"company_id": m.company_id, "job_title": m.job_title, "name": m.company.name}
                      for m in getattr(record, "memberships", [])],
    }


def render_list(spec: listing.EntityList, template: str, *, body_block: str,
                read: Callable[[listing.ListQuery, User], listing.Page] | None = None,
                **extra: Any):  # type: ignore[no-untyped-def]
    """A list page (contacts, companies): the full page, or for htmx only the rows it asked for. ``read`` gives the
    page of rows the list shows (default: :func:`listing.page`'s entities).

    More rows (``after``) and the rows of a new search (target ``list-body``) render only what rows need; the full
    page adds saved views, grouping and — when the page holds the whole list — the count (otherwise it loads after
    the page from the ``count`` endpoint)."""
    me = user()
    require(me, "view", spec.entity)
    query = list_query(spec)
    page = read(query, me) if read is not None else listing.page(spec, query, me)
    owners = assignable_users()
    context: dict[str, Any] = {"query": query, "page": page, "owners": owners,
                               "owner_names": {u.id: u.display_name for u in owners}, "form": EmptyForm(),
                               "attention_days": current_app.config["MAYAK_ATTENTION_DAYS"], **extra}
    if is_htmx() and request.args.get("after"):
        return fragment(template, "rows", **context)
    context["fields"] = custom_fields.definitions(spec.entity)
    context["saved_views"] = views.for_user(actor(), spec.entity)
    if is_htmx() and request.headers.get("HX-Target") == "list-body":
        # a new search or filter: the rows, and (out of band) the list's tools and count for what is now on screen
        return fragment(template, body_block, export_oob=True, **context)
    if query.group:
        context["groups"] = listing.groups(spec, query, me)
    elif page.next_cursor is None and not query.cursor:
        context["total"] = (len(page.rows), False)  # the whole list is on this page: no need to count
    return render(template, **context)


def render_count(spec: listing.EntityList, template: str):  # type: ignore[no-untyped-def]
    """How many records the list shows (capped), loaded after the page so counting never delays it."""
    me = user()
    require(me, "view", spec.entity)
    return fragment(template, "count", total=listing.count(spec, list_query(spec), me))


def render_options(spec: listing.EntityList, template: str, field: str):  # type: ignore[no-untyped-def]
    """Records matching what was typed, as <option>s for a picker (htmx): the picker's input is named ``field``
    (``company_q``, ``contact_q``) so that it does not collide with the form around it."""
    me = user()
    require(me, "view", spec.entity)
    typed = request.args.get(field) or request.args.get("q", "")
    query = listing.ListQuery(q=typed, limit=20)
    return fragment(template, "options", rows=listing.page(spec, query, me).rows)
