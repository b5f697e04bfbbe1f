"""QUALITY 3: payloads stored in every text field render as text on every page and partial: no element, ``on*``
or ``hx-*`` attribute carries them; the CSP forbids inline scripts; template syntax is not evaluated."""

from __future__ import annotations

from html.parser import HTMLParser

from core.db import db, unit_of_work
from core.models import User
from core.services.clients import companies, contacts, custom_fields, timeline
from core.services.platform.context import Actor

PAYLOADS = [
    "<script>alert('x1')</script>",
    '"><img src=x onerror=alert(\'x2\')>',
    "javascript:alert('x3')",
    '" hx-get="/logout" hx-trigger="load" data-x="x4',
    "{{ 'q9' ~ 'w8' }}{% print 'k7' ~ 'm6' %}",
    "<svg onload=alert('x6')>",
]


class Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(k == "src" for k, _v in attrs):
            self.problems.append("inline <script>")
        if tag in ("img", "svg") and any(k.startswith("on") for k, _v in attrs):
            self.problems.append(f"<{tag}> with an event handler")
        for key, value in attrs:
            value = value or ""
            if key.startswith("on"):
                self.problems.append(f"{key} attribute")
            # the payload's own attributes: hx-get="/logout" (a page's CSRF token in hx-headers may hold "x4")
            if key.startswith("hx-") and "/logout" in value:
                self.problems.append(f"injected {key}")
            if key == "href" and value.strip().lower().startswith("javascript:"):
                self.problems.append("javascript: link")


def test_payloads_stay_text_everywhere(app, admin, admin_client):
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        custom_fields.save_definition(actor, None, entity="contact", label="Заметка X", type_="text", choices=[],
                                      required=False)
        ids = []
        for n, payload in enumerate(PAYLOADS):
            company = companies.save(actor, None, {"name": f"{payload} {n}", "industry": payload, "city": payload})
            contact = contacts.save(actor, None, {
                "first_name": payload, "last_name": payload, "middle_name": payload, "job_title": payload,
                "city": payload, "region": payload, "source": payload, "notes": payload, "tags": [payload[:70]],
                "companies": [{"company_id": company.id, "job_title": payload}], "custom": {"zametka_x": payload},
                "emails": [{"address": f"x{n}@example.com"}]})
            timeline.record(kind="note", contact_id=contact.id, body=payload, title=payload)
            ids.append((contact.id, company.id))
    urls = ["/contacts/", "/companies/", "/contacts/?group=tag", "/contacts/?group=company", "/contacts/?q=%3Cscript",
            "/contacts/duplicates", "/admin/audit", "/admin/custom-fields"]
    for contact_id, company_id in ids:
        urls += [f"/contacts/{contact_id}", f"/contacts/{contact_id}/edit", f"/companies/{company_id}",
                 f"/contacts/{contact_id}/timeline?before=9999999999_1", f"/contacts/{contact_id}/field/city?edit=1",
                 f"/contacts/{contact_id}/field/custom.zametka_x", f"/companies/{company_id}/field/name"]
    urls.append(f"/contacts/merge?ids={ids[0][0]}&ids={ids[1][0]}")
    for url in urls:
        response = admin_client.get(url, headers={"HX-Request": "true"} if "field" in url else {})
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        inspector = Inspector()
        inspector.feed(body)
        assert inspector.problems == [], f"{url}: {inspector.problems}"
        assert "q9w8" not in body and "k7m6" not in body, f"{url} evaluated template syntax"
    csp = admin_client.get("/contacts/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
