"""The URL map, walked: every route with its arguments filled from real records.

The walkers themselves (``all_routes``, ``routes_with_argument``, ``assert_url_map_safe``) are in
:mod:`core.testing.security`, so that a plugin's tests run the same checks over its own blueprint."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from core.db import db, unit_of_work
from core.models import (
    Activity,
    ApiToken,
    AssignmentRule,
    Attachment,
    Call,
    Company,
    Contact,
    Deal,
    ImportBatch,
    InboxItem,
    JobRecord,
    LeadForm,
    Pipeline,
    Role,
    SavedView,
    Stage,
    Task,
    TaskRecurrence,
    Team,
    WebhookDelivery,
)
from core.testing.security import Route, all_routes, routes_with_argument

__all__ = ["CROSS_SITE", "PUBLIC", "SELF_SERVICE", "Route", "all_routes", "parameter_names", "routes_with_argument",
           "seed_targets"]

# Routes anyone may reach (they carry their own protection: throttling, CSRF, signatures).
PUBLIC = {"auth.login", "auth.set_language", "health.healthz", "health.livez", "health.readyz", "metrics.metrics",
          "static", "theme_static", "plugin_static", "api.openapi", "lead_capture.page", "lead_capture.submit",
          "lead_capture.preflight", "webhooks.receive"}
# Routes meant to be posted from other sites: lead forms check their own allowed origins, honeypot, rate limit and
# fill time instead of CSRF tokens (tests/test_lead_capture.py). The walkers read the ``cross_site`` marker itself
# (core.testing.security.cross_site_endpoints); this list is core's own, so that a new one is a decision.
# Provider webhooks check the endpoint's signature and allow-list (tests/test_webhooks_in.py).
CROSS_SITE = {"lead_capture.submit", "webhooks.receive"}
# Routes every signed-in user may use, about themselves only.
SELF_SERVICE = {"home.index", "home.notifications", "home.notifications_badge", "home.notifications_read",
                "home.profile", "home.set_timezone", "auth.logout", "jobs.progress", "auth.api_tokens",
                "home.plugin_settings"}


def _before(record: object, fields: tuple[str, ...]) -> dict[str, object]:
    """A merge's snapshot of the kept record, as the merge services write it (undo restores it)."""
    return {f: (getattr(record, f) if f in ("birthday", "owner_id") else getattr(record, f) or "") for f in fields}


def seed_targets(app: Flask, owner_id: int) -> dict[str, int]:
    """Create one record of each kind a route can name, owned by ``owner_id``."""
    from core.services.clients.company_merge import FIELDS as COMPANY_FIELDS
    from core.services.clients.merge import FIELDS as CONTACT_FIELDS

    with app.app_context(), unit_of_work():
        team = Team(name="Target team")
        role = Role(name="Target role")
        job = JobRecord(name="ops.purge", kwargs={}, created_by_id=owner_id, status="failed")
        company = Company(name="Target company", search_name="target company", owner_id=owner_id)
        contact = Contact(first_name="Target", search_lf="target", search_fl="target", owner_id=owner_id)
        db.session.add_all([team, role, job, company, contact])
        db.session.flush()
        merge = Activity(kind="merge", contact_id=contact.id, data={"merged": [],
                                                                    "before": _before(contact, CONTACT_FIELDS),
                                                                    "moved": [],
                                                                    "added_phones": [], "added_emails": [],
                                                                    "added_companies": [], "tags_before": []})
        db.session.add(merge)
        company_merge = Activity(kind="merge", company_id=company.id, data={"merged": [],
                                                                            "before": _before(company, COMPANY_FIELDS),
                                                                            "moved": [],
                                                                            "people": [], "added_phones": [],
                                                                            "added_emails": [], "tags_before": []})
        db.session.add(company_merge)
        note = Activity(kind="file", contact_id=contact.id, title="secret.pdf")
        db.session.add(note)
        db.session.flush()
        attachment = Attachment(activity_id=note.id, filename="secret.pdf", content_type="application/pdf",
                                size=1, sha256="0" * 64)
        db.session.add(attachment)
        view = SavedView(entity="contact", name="Target view", owner_id=owner_id, params={})
        db.session.add(view)
        pipeline = Pipeline(name="Target pipeline", stages=[Stage(name="One"), Stage(name="Two")])
        db.session.add(pipeline)
        db.session.flush()
        deal = Deal(title="Target deal", pipeline_id=pipeline.id, stage_id=pipeline.stages[0].id, owner_id=owner_id)
        db.session.add(deal)
        task = Task(title="Target task", owner_id=owner_id)
        item = InboxItem(channel="phone", name="Target lead", owner_id=owner_id, submitted_by_id=owner_id)
        lead_form = LeadForm(name="Target form", key="target-form-key", fields=[])
        rule = AssignmentRule(name="Target rule", strategy="fixed", user_id=owner_id)
        db.session.add_all([task, item, lead_form, rule])
        db.session.flush()
        recurrence = TaskRecurrence(id=rule.id, rrule="FREQ=DAILY;COUNT=2", starts_at=task.created_at,
                                    owner_id=owner_id, template={"title": "Target"})
        db.session.add(recurrence)
        batch = ImportBatch(filename="clients.csv", stored_name="missing.csv", format="csv", status="finished",
                            created_by_id=owner_id)
        db.session.add(batch)
        token = ApiToken(user_id=owner_id, name="Target token", prefix="mk_target", token_hash="0" * 64)
        db.session.add(token)
        delivery = WebhookDelivery(plugin="target", endpoint="events", method="POST", status="failed",
                                   body=b'{"event": "x"}', error="Target failure")
        db.session.add(delivery)
        call = Call(provider="target", external_id="target-call", direction="in", state="ended", outcome="missed",
                    client_number="+79160000001", user_id=owner_id, contact_id=contact.id, legs={})
        db.session.add(call)
        db.session.commit()
        return {"user_id": owner_id, "team_id": team.id, "role_id": role.id, "record_id": job.id,
                "contact_id": contact.id, "company_id": company.id, "name": "city", "entity": "contacts",
                "format": "csv", "collection": "contacts", "merge_id": merge.id,
                "attachment_id": attachment.id, "view_id": view.id, "kind": "contact",
                "pipeline_id": pipeline.id, "deal_id": deal.id, "task_id": task.id, "item_id": item.id,
                "form_id": lead_form.id, "key": lead_form.key, "rule_id": rule.id, "batch_id": batch.id,
                "token_id": token.id, "plugin": "webhooks", "path": "events", "delivery_id": delivery.id,
                "call_id": call.id}


# --- every parameter of every route (tests/security/test_headers.py, test_bad_input.py) ------------------------

_SOURCES = ("core", "plugins", "themes")
_READS = re.compile(r"""\b(?:args|values|form)\s*(?:\.(?:get|getlist)\(|\[)\s*["']([A-Za-z_][\w.]*)["']""")
_FORM_NAMES = re.compile(r"""\bname=["']([A-Za-z_][\w.]*)["']""")
_URL_FOR_ARGS = re.compile(r"""url_for\([^)]*""")
_KWARG = re.compile(r"""\b([a-z_]+)=""")
_FILTER_NAMES = re.compile(r"""name (?:==|in) \(?((?:["'][a-z_.]+["'](?:, )?)+)""")


def parameter_names() -> list[str]:
    """Every query-string or form parameter name the code and templates read or write: what views read
    (``request.args.get("x")``), what forms and links send (``name="x"``, ``url_for(..., x=...)``) and the
    list filters (``core/services/clients/listing.py``). Read from the sources, so a new parameter is walked too."""
    root = Path(__file__).resolve().parents[2]
    names: set[str] = set()
    for top in _SOURCES:
        for path in (root / top).rglob("*"):
            if path.suffix not in (".py", ".html") or "translations" in path.parts or "tests" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            names.update(_READS.findall(text))
            names.update(_FORM_NAMES.findall(text))
            for call in _URL_FOR_ARGS.findall(text):
                names.update(_KWARG.findall(call))
            if path.name == "listing.py":
                for group in _FILTER_NAMES.findall(text):
                    names.update(re.findall(r"[a-z_.]+", group))
    from core.services.clients.listing import COMPANIES, CONTACTS, DEALS, ListQuery

    for spec in (CONTACTS, COMPANIES, DEALS):
        names.update(spec.text_filters)
    names.update(ListQuery.RESERVED)
    names.discard("csrf_token")
    return sorted(names)
