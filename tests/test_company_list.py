"""Issue 10, item 22: the companies list has the contacts' filters (owner, city, region, tag, created range, custom
fields) and bulk actions (give to another owner, add tags, delete with undo, export), through the same machinery."""

from __future__ import annotations

import re

from core.db import db, unit_of_work
from core.models import Company, User
from core.services.clients import companies, custom_fields
from core.services.platform.context import Actor
from core.testing.fixtures import csrf_token

FILTERS = ("owner", "city", "region", "industry", "tag", "created_from", "created_to", "quiet_days")


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)]


def test_companies_filter_like_contacts(app, admin, admin_client, make_user):
    seller = make_user("seller@example.com", full_name="Мария Продавцова")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        custom_fields.save_definition(actor, None, entity="company", label="Сегмент", type_="choice",
                                      choices=["Опт", "Розница"], required=False)
        key = custom_fields.definitions("company")[0].key
        made = {}
        for n, (city, owner, segment) in enumerate([("Тверь", seller.id, "Опт"), ("Казань", admin.id, "Розница"),
                                                    ("Тверь", admin.id, "Розница")]):
            made[n] = companies.save(actor, None, {"name": f"Кама {n}", "city": city, "owner_id": owner,
                                                   "tags": ["опт"] if segment == "Опт" else [],
                                                   "custom": {key: segment}}).id
    page = admin_client.get("/companies/").get_data(as_text=True)
    for name in FILTERS:
        assert f'name="{name}"' in page, name
    assert f'name="custom.{key}"' in page
    assert set(_ids(admin_client.get("/companies/?city=Тверь").get_data(as_text=True))) == {made[0], made[2]}
    assert _ids(admin_client.get(f"/companies/?owner={seller.id}").get_data(as_text=True)) == [made[0]]
    assert _ids(admin_client.get("/companies/?tag=опт").get_data(as_text=True)) == [made[0]]
    assert set(_ids(admin_client.get(f"/companies/?custom.{key}=Розница").get_data(as_text=True))) == {made[1], made[2]}
    chips = admin_client.get("/companies/?city=Тверь").get_data(as_text=True)
    assert re.search(r"filter-chip[^>]*>\s*City: Тверь ×", chips), "the chip names its filter in words"


def test_company_bulk_actions_with_undo(app, admin, admin_client, make_user):
    seller = make_user("seller@example.com", full_name="Мария Продавцова")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        ids = [companies.save(actor, None, {"name": f"Ока {n}"}).id for n in range(4)]

    def bulk(action: str, chosen: list[int], **extra: str):
        return admin_client.post("/companies/bulk", data={"csrf_token": csrf_token(admin_client),
                                                          "action": action, "ids": chosen, **extra})

    assert bulk("reassign", ids[:2], owner_id=str(seller.id)).status_code in (302, 303)
    assert bulk("tag", ids[1:3], tags="vip, опт").status_code in (302, 303)
    with app.app_context(), unit_of_work():
        rows = {c.id: c for c in db.session.scalars(db.select(Company).where(Company.id.in_(ids)))}
        assert [rows[i].owner_id for i in ids[:2]] == [seller.id, seller.id] and rows[ids[2]].owner_id == admin.id
        assert {t.name for t in rows[ids[1]].tags} == {"vip", "опт"} and not rows[ids[3]].tags
    response = bulk("delete", ids[2:])
    assert response.status_code in (302, 303)
    page = admin_client.get("/companies/").get_data(as_text=True)
    assert set(_ids(page)) == set(ids[:2])
    undo = re.search(r'<form method="post" action="(/companies/undo-delete)"', page)
    assert undo, "no Undo after a bulk delete"
    assert admin_client.post(undo.group(1), data={"csrf_token": csrf_token(admin_client),
                                                  "next": "/companies/"}).status_code in (302, 303)
    assert set(_ids(admin_client.get("/companies/").get_data(as_text=True))) == set(ids)
    nothing = admin_client.post("/companies/bulk", data={"csrf_token": csrf_token(admin_client), "action": "delete"})
    assert nothing.status_code in (302, 303)  # nothing selected: said so, nothing deleted
    assert set(_ids(admin_client.get("/companies/").get_data(as_text=True))) == set(ids)
