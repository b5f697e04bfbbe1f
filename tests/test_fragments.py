"""QUALITY 27: every block a page can request through htmx renders on its own, with one page of results and with
several (issue 10, item 12).

The test does not list the fragments: it walks every page of the URL map, reads the ``hx-get``/``hx-post``
elements each page (and each fragment it gets back) carries, and makes the request htmx would make — the same
values, ``HX-Request``, ``HX-Target`` and CSRF header — typing into search boxes a broad query, nothing and a query
that matches nothing. Every page is also asked for with ``HX-Request`` alone (the block its view renders for htmx).
Then it checks that every block a view can render alone was rendered: the blocks of every template (except layout
blocks a child overrides) and every literal ``render``/``fragment`` pair in the views' code.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from jinja2 import nodes
from jinja2_fragments.flask import template_block_rendered
from werkzeug.datastructures import MultiDict

from core.config import PROJECT_ROOT
from core.db import db, unit_of_work
from core.models import Call, JobRecord, User, utcnow
from core.services.clients import companies, contacts, custom_fields, listing
from core.services.platform import notifications
from core.services.platform.context import Actor
from core.services.work import deals, tasks
from core.testing.fixtures import wait_for_jobs
from tests import htmx_crawler
from tests.security.routes import all_routes, seed_targets

SEARCH_VALUES = ("а", "", "zzqx-nothing")
SKIP_PAGES = {"auth.logout", "exports.download", "exports.job_file", "files.download", "api.openapi"}
ACCEPTED = (200, 204, 286)


def _seed(app, admin_id: int, rows: int) -> dict[str, int]:
    """``rows`` contacts, companies, deals, tasks, jobs and notifications (each with 'а' in its name), custom fields of
    every type on contacts and companies, and one record of every kind a route names."""
    targets = seed_targets(app, admin_id)
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin_id))
        for entity in ("contact", "company"):
            for kind in ("text", "number", "date", "choice", "multichoice", "boolean", "link"):
                custom_fields.save_definition(actor, None, entity=entity, label=f"Поле {kind}", type_=kind,
                                              choices=["Да", "Нет"] if "choice" in kind else [], required=False)
        db.session.commit()
        typed = {"text": "текст", "number": "12", "date": "2024-05-01", "choice": "Да", "multichoice": ["Да"],
                 "boolean": True, "link": "https://example.com/а"}
        keys = {f.type: f.key for f in custom_fields.definitions("contact")}
        custom = {keys[kind]: value for kind, value in typed.items()}
        company_custom = {f.key: typed[f.type] for f in custom_fields.definitions("company")}
        pipeline = deals.ensure_default_pipeline()
        first_company = first_contact = None
        for n in range(rows):
            company = companies.save(actor, None, {"name": f"Компания Кама {n}", "city": "Казань",
                                                   "custom": company_custom})
            contact = contacts.save(actor, None, {
                "first_name": f"Анна{n}", "last_name": "Егорова", "city": "Москва", "tags": ["важный"],
                "phones": [{"raw": f"+7 495 123-{n // 100:02d}-{n % 100:02d}"}],
                "emails": [{"address": f"anna{n}@example.com"}],
                "companies": [{"company_id": company.id, "job_title": "Бухгалтер"}], "custom": custom})
            deals.save(actor, None, {"title": f"Сделка на поставку {n}", "pipeline_id": pipeline.id,
                                     "amount": str(1000 + n), "contact_id": contact.id})
            tasks.save(actor, None, {"title": f"Позвонить Анне {n}", "contact_id": contact.id})
            db.session.add(JobRecord(name="ops.purge", kwargs={}, created_by_id=admin_id, status="finished"))
            notifications.notify([admin_id], "A notification %(n)s", params={"n": n})
            first_company, first_contact = first_company or company.id, first_contact or contact.id
        # the admin's phone is ringing and two calls are being talked (one note drafted): the toasts, with the note
        # forms, on every page
        db.session.get(User, admin_id).extension = "100"
        now = utcnow()
        db.session.add_all([
            Call(provider="test", external_id=f"ringing-{rows}", direction="in", state="ringing", user_id=admin_id,
                 client_number="+74951230000", contact_id=first_contact, toast_open=True, started_at=now, legs={}),
            Call(provider="test", external_id=f"talking-{rows}", direction="in", state="answered", user_id=admin_id,
                 client_number="+79990001122", toast_open=True, started_at=now, answered_at=now, legs={},
                 note="Договорились о встрече", note_outcome="agreed"),
            Call(provider="test", external_id=f"talking-blank-{rows}", direction="in", state="answered",
                 user_id=admin_id, client_number="+79990001133", toast_open=True, started_at=now, answered_at=now,
                 legs={})])
        db.session.commit()
    targets.update(contact_id=first_contact, company_id=first_company, name=f"custom.{keys['choice']}")
    return targets


def _check(response, request: htmx_crawler.HtmxRequest) -> str:
    body = response.get_data(as_text=True)
    # a form posted with what the page holds may be refused (a value the browser's script fills in): with a 4xx
    # that says why, never a server error; what a page reads must answer 2xx
    accepted = ACCEPTED if request.method == "GET" else (*ACCEPTED, 400, 422)
    assert response.status_code in accepted, f"{response.status_code} for {request.describe()}"
    assert "Traceback" not in body and "Undefined" not in body, request.describe()
    if request.target and response.status_code == 200:
        assert "<html" not in body.lower(), f"a whole page swapped into #{request.target}: {request.describe()}"
    return body


def _send(client, request: htmx_crawler.HtmxRequest):
    headers = dict(request.headers)
    if request.method == "GET":
        return client.get(htmx_crawler.as_get_url(request), headers=headers)
    return client.post(request.url, data=MultiDict(list(request.data)), headers=headers)


def _variants(request: htmx_crawler.HtmxRequest, element: htmx_crawler.Element) -> list[htmx_crawler.HtmxRequest]:
    """What the user may type into the search boxes the request carries: something broad, nothing, no match."""
    boxes = {n.attrs["name"] for n in element.walk()
             if n.tag == "input" and n.attrs.get("type") == "search" and n.attrs.get("name")}
    if element.tag == "input" and "changed" in element.attrs.get("hx-trigger", "") and element.attrs.get("name"):
        boxes.add(element.attrs["name"])
    if not boxes:
        return [request]
    return [htmx_crawler.with_values(request, dict.fromkeys(boxes, value)) for value in SEARCH_VALUES]


def _fragment_blocks(app) -> set[tuple[str, str]]:
    """Every (template, block) a view may render alone: the blocks of every template except the layout blocks a
    child overrides and the blocks of layouts themselves, plus every literal pair a view passes to ``render`` or
    ``fragment``."""
    env = app.jinja_env
    parsed = {}
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html") and not n.startswith("core:")):
        source = env.loader.get_source(env, name)[0]
        parsed[name] = env.parse(source)
    parents = {}
    for name, tree in parsed.items():
        extends = next(iter(tree.find_all(nodes.Extends)), None)
        if extends is not None and isinstance(extends.template, nodes.Const):
            parents[name] = extends.template.value.removeprefix("core:")
    layouts = set(parents.values())

    def inherited(name: str) -> set[str]:
        found: set[str] = set()
        parent = parents.get(name)
        while parent in parsed:
            found |= {b.name for b in parsed[parent].find_all(nodes.Block)}
            parent = parents.get(parent)
        return found

    def called(tree: nodes.Template) -> set[str]:  # blocks a page renders inside another with self.<block>()
        return {n.attr for n in tree.find_all(nodes.Getattr)
                if isinstance(n.node, nodes.Name) and n.node.name == "self"}

    blocks = {(name, block.name) for name, tree in parsed.items() if name not in layouts
              for block in tree.find_all(nodes.Block) if block.name not in inherited(name) | called(tree)}
    for path in [*(PROJECT_ROOT / "core" / "web").glob("*.py"), *(PROJECT_ROOT / "plugins").glob("*/plugin.py")]:
        for call in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None))
                    in ("render", "fragment") and len(call.args) >= 2
                    and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2])):
                blocks.add((call.args[0].value, call.args[1].value))
    return blocks


@pytest.mark.parametrize("rows", [3, listing.PAGE_SIZE + 7], ids=["one-page", "several-pages"])
def test_every_fragment_a_page_asks_for_renders_on_its_own(app, admin, admin_client, rows, tmp_path):
    from tests.import_samples import write
    from tests.test_import_pages import _upload

    targets = _seed(app, admin.id, rows)
    batch = _upload(admin_client, write(tmp_path / "клиенты.csv"))  # an import waiting for its column mapping
    assert batch.status_code in (302, 303), batch.status_code
    rendered: set[tuple[str, str]] = set()

    def record(sender, template_name, block_name, context, **extra):  # type: ignore[no-untyped-def]
        rendered.add((template_name, block_name))

    pages = [r.url for r in all_routes(app, targets) if r.method == "GET" and r.endpoint not in SKIP_PAGES]
    pages += [batch.headers["Location"], "/contacts/?q=а", "/contacts/?sort=created&dir=desc", "/companies/?q=а",
              "/deals/list?q=а", "/admin/audit?action=contact.created", "/contacts/?group=owner"]
    seen: set[htmx_crawler.HtmxRequest] = set()
    problems: list[str] = []
    with template_block_rendered.connected_to(record, app):
        queue: list[tuple[str, str, int, dict[str, str]]] = []
        for url in dict.fromkeys(pages):
            page = admin_client.get(url)
            if page.status_code != 200 or page.mimetype != "text/html":
                continue
            html = page.get_data(as_text=True)
            queue.append((html, url, 0, htmx_crawler.page_headers(html)))
            alone = admin_client.get(url, headers={"HX-Request": "true", "HX-Current-URL": url})
            if alone.status_code not in ACCEPTED:
                problems.append(f"{alone.status_code} for GET {url} with HX-Request")
        while queue:
            html, url, depth, inherited = queue.pop(0)
            found = htmx_crawler.requests_of(html, url, inherited)
            # requests that change records go last, so every read sees the seeded data
            found.sort(key=lambda pair: pair[0].method != "GET")
            for request, element in found:
                if "hx-confirm" in element.attrs:  # asks first: a destructive action, not a fragment of the page
                    continue
                for variant in _variants(request, element):
                    if variant in seen:
                        continue
                    seen.add(variant)
                    response = _send(admin_client, variant)
                    try:
                        body = _check(response, variant)
                    except AssertionError as exc:
                        problems.append(str(exc))
                        continue
                    if depth < 3 and body:
                        queue.append((body, url, depth + 1, inherited))
        # the kanban's drag and drop (app.js) posts the card's stage change and swaps the board in
        board = admin_client.get(f"/deals/board/{targets['pipeline_id']}").get_data(as_text=True)
        tree = htmx_crawler.parse(board)
        card = next((n for n in tree.walk() if "data-move-url" in n.attrs), None)
        stage = [n.attrs["data-stage"] for n in tree.walk() if "data-stage" in n.attrs]
        assert card is not None and len(stage) > 1, "the board shows no card to move"
        move = admin_client.post(card.attrs["data-move-url"], data={"stage_id": stage[-1]},
                                 headers=_csrf_headers(board, {"HX-Target": "kanban"}))
        assert move.status_code == 200, move.status_code
    wait_for_jobs(app)
    assert problems == [], "\n".join(problems)
    if rows <= listing.PAGE_SIZE:
        return  # "more" rows exist only with several pages: the other run checks that every block was asked for
    missing = _fragment_blocks(app) - rendered
    assert not missing, f"blocks no page asked for through htmx (or that failed): {sorted(missing)}"


def _csrf_headers(html: str, extra: dict[str, str]) -> dict[str, str]:
    body = next(n for n in htmx_crawler.parse(html).walk() if n.tag == "body")
    return {"HX-Request": "true", **json.loads(body.attrs["hx-headers"]), **extra}


def test_a_site_override_of_a_list_page_still_renders_its_fragments(app, admin, make_app, tmp_path):
    """A page overridden in ``instance/templates`` that extends the original (``core:``) and changes only its title:
    the rows a search asks for come from the original's blocks, with the original's imported macros."""
    from core.testing.fixtures import sign_in

    override = tmp_path / "instance" / "templates" / "contacts" / "index.html"
    override.parent.mkdir(parents=True)
    override.write_text('{% extends "core:contacts/index.html" %}{% block title %}Клиенты{% endblock %}',
                        encoding="utf-8")
    _seed(app, admin.id, listing.PAGE_SIZE + 2)
    site = make_app()
    client = site.test_client()
    sign_in(client, admin.email)
    assert "<title>Клиенты" in client.get("/contacts/").get_data(as_text=True)
    for q in SEARCH_VALUES:
        response = client.get(f"/contacts/?q={q}", headers={"HX-Request": "true", "HX-Target": "list-body"})
        assert response.status_code == 200, q
        assert "<html" not in response.get_data(as_text=True)
    more = client.get("/contacts/?q=а", headers={"HX-Request": "true", "HX-Target": "list-body"})
    assert "more-row" in more.get_data(as_text=True)


def test_the_rows_of_a_search_stay_within_the_query_budget(app, admin, admin_client):
    """The rows of a new search bring the tool bar and count along: still at most 10 statements (QUALITY 23)."""
    from tests.test_query_budget import BUDGET, counted

    _seed(app, admin.id, listing.PAGE_SIZE + 7)
    headers = {"HX-Request": "true", "HX-Target": "list-body"}
    for url in ("/contacts/?q=а", "/companies/?q=Кама", "/deals/list?q=Сделка", "/contacts/?q=а&city=Москва"):
        admin_client.get(url, headers=headers)  # warm caches
        with counted(app) as statements:
            response = admin_client.get(url, headers=headers)
        assert response.status_code == 200 and 'id="list-tools"' in response.get_data(as_text=True)
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements:\n" + "\n".join(statements)
