"""Seed a Mayak database with N contacts quickly (bulk inserts), for the benchmarks.

    python bench/seed.py --db sqlite:////tmp/bench.db --contacts 100000

Creates the schema through the migrations, three users (an admin who runs the benchmark, two sales managers),
N/10 companies, N contacts with one or two phones typed in mixed formats, an email, a company for most, a few
timeline entries each, and one contact ("Бенчмарк Карточка") with 200 timeline entries for the card scenario;
N/2 deals spread over the default pipeline's stages and N/2 tasks (80% open, due from ten days ago to a month
ahead), owned by the three users in turn.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from core import create_app, migrate
from core.db import db
from core.models import Activity, Company, Contact, ContactCompany, Deal, Email, Phone, Task, User
from core.plugins.facades import registry
from core.services.clients import phones
from core.services.platform.text import company_key, search_key
from core.services.transfer import sample_data
from core.services.users.accounts import ensure_default_roles, hash_password
from core.services.work import deal_totals, deals

BATCH = 20_000
PASSWORD = "bench-password-1"
CARD_NAME = ("Бенчмарк", "Карточка")
DEAL_TITLES = ("Поставка окон", "Кухня на заказ", "Годовое обслуживание", "Монтаж вентиляции", "Оптовая партия")
TASK_TITLES = ("Перезвонить клиенту", "Отправить КП", "Подготовить счёт", "Уточнить сроки")


def app_for(url: str, instance: Path):  # type: ignore[no-untyped-def]
    env = {"MAYAK_DATABASE_URL": url, "MAYAK_INSTANCE_PATH": str(instance), "MAYAK_SECRET_KEY": "bench-" * 4,
           "MAYAK_PLUGINS_FILE": str(Path(__file__).resolve().parent.parent / "plugins.toml")}
    return create_app({"TESTING": False}, environ=env)


def migrate_app(app) -> None:  # type: ignore[no-untyped-def]
    """What ``mayak db upgrade`` does, without the test tools (the benchmark runs from ``make install``)."""
    with app.app_context():
        migrate.upgrade()
        ensure_default_roles(registry().permissions.values())
        db.session.commit()


def reset_sequences() -> None:
    """Bulk inserts gave explicit ids: move every id sequence past them, or the next contact created through the
    API or the UI would collide with a seeded one."""
    with db.engine.begin() as conn:
        for table in db.metadata.sorted_tables:
            if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement is not False:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f"coalesce((SELECT max(id) FROM \"{table.name}\"), 0) + 1, false)")


def seed(url: str, n: int, instance: Path) -> None:
    app = app_for(url, instance)
    migrate_app(app)
    rng = random.Random(42)
    now = datetime.now(UTC)
    with app.app_context():
        if db.session.scalar(select(Contact.id).limit(1)) is not None:
            print("database already seeded")
            return
        users = [User(email=e, full_name=f, password_hash=hash_password(PASSWORD), is_admin=(i == 0))
                 for i, (e, f) in enumerate([("bench@example.com", "Bench Admin"), ("s1@example.com", "Sales One"),
                                             ("s2@example.com", "Sales Two")])]
        db.session.add_all(users)
        db.session.commit()
        owner_ids = [u.id for u in users]
        pipeline = deals.ensure_default_pipeline("RUB")
        stage_ids = [(st.id, st.kind) for st in pipeline.stages]
        started = time.monotonic()
        n_companies = max(1, n // 10)
        rows = []
        for i in range(n_companies):
            name, industry, city = sample_data.company_name(rng, i)
            rows.append({"id": i + 1, "name": name, "search_name": company_key(name), "industry": industry,
                         "website": "", "city": city, "region": "", "source": "", "notes": "", "custom": {},
                         "owner_id": rng.choice(owner_ids), "created_at": now, "updated_at": now})
        _bulk(Company, rows)
        contacts, phone_rows, email_rows, links, acts, deal_rows, task_rows = [], [], [], [], [], [], []
        for i in range(1, n + 1):
            p = sample_data.person(rng, i)
            if i == 1:
                p.first_name, p.last_name = CARD_NAME
            created = now - timedelta(minutes=i)
            contacts.append({"id": i, "first_name": p.first_name, "middle_name": p.middle_name,
                             "last_name": p.last_name, "search_lf": search_key(p.last_name, p.first_name, p.middle_name),
                             "search_fl": search_key(p.first_name, p.last_name, p.middle_name), "job_title": p.title,
                             "city": p.city, "region": p.region, "source": p.source, "notes": "", "custom": {},
                             "owner_id": rng.choice(owner_ids), "created_at": created, "updated_at": created,
                             "last_activity_at": created})
            parsed = phones.parse(p.phone, "RU")
            phone_rows.append({"contact_id": i, "kind": "mobile", "raw": parsed.raw, "e164": parsed.e164,
                               "digits_rev": parsed.digits_rev, "valid": parsed.valid, "position": 0})
            email_rows.append({"contact_id": i, "kind": "work", "address": p.email, "normalized": p.email.lower(),
                               "valid": True, "position": 0})
            if rng.random() < 0.8:
                links.append({"contact_id": i, "company_id": rng.randint(1, n_companies), "job_title": p.title,
                              "position": 0})
            entries = 200 if i == 1 else rng.randint(0, 2)
            for k in range(entries):
                acts.append({"kind": rng.choice(["note", "call", "email"]), "contact_id": i, "title": "Звонок",
                             "body": rng.choice(sample_data.NOTES), "data": {}, "source": "bench",
                             "occurred_at": created - timedelta(hours=k), "created_at": created})
            if i % 2 == 0:  # every other client has a deal, in any stage
                stage_id, kind = rng.choice(stage_ids)
                title = rng.choice(DEAL_TITLES)
                deal_rows.append({"id": i // 2, "title": title, "search_title": search_key(title),
                                  "pipeline_id": pipeline.id, "stage_id": stage_id,
                                  "amount": rng.randint(1, 400) * 5000, "currency": "RUB", "contact_id": i,
                                  "owner_id": rng.choice(owner_ids), "source": p.source, "channel": "phone",
                                  "utm": {}, "lost_reason": "", "notes": "", "created_at": created,
                                  "updated_at": created, "closed_at": created if kind != "open" else None})
            if i % 2 == 1:  # and every other one a task: most open, due from ten days ago to a month ahead
                due = now + timedelta(hours=rng.randint(-240, 720))
                task_rows.append({"title": rng.choice(TASK_TITLES), "owner_id": rng.choice(owner_ids),
                                  "contact_id": i, "due_at": due, "priority": "normal",
                                  "status": "open" if rng.random() < 0.8 else "done", "remind_via": ["app"],
                                  "notes": "", "created_at": created, "updated_at": created})
            if len(contacts) >= BATCH:
                _flush(contacts, phone_rows, email_rows, links, acts, deal_rows, task_rows)
                print(f"  {i:,} contacts", flush=True)
        _flush(contacts, phone_rows, email_rows, links, acts, deal_rows, task_rows)
        deal_totals.recount()  # bulk inserts bypass the running totals
        if db.engine.dialect.name == "postgresql":
            reset_sequences()
            # a steady state, as autovacuum leaves it: statistics, and the visibility map that lets an index-only
            # scan (the team view's capped counts) skip the table; without it they read a table page per entry
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"seeded {n:,} contacts in {time.monotonic() - started:.1f}s")


def _bulk(model, rows) -> None:  # type: ignore[no-untyped-def]
    if rows:
        db.session.execute(insert(model), rows)
        db.session.commit()


def _flush(*batches) -> None:  # type: ignore[no-untyped-def]
    for model, rows in zip((Contact, Phone, Email, ContactCompany, Activity, Deal, Task), batches, strict=True):
        _bulk(model, rows)
        rows.clear()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--instance", default=os.environ.get("TMPDIR", "/tmp") + "/mayak-bench-instance")
    args = parser.parse_args()
    seed(args.db, args.contacts, Path(args.instance))
