"""``mayak demo-data``: fill a fresh installation with a living CRM to look at."""

from __future__ import annotations

import random
from datetime import timedelta

from babel.numbers import format_decimal
from flask import current_app
from sqlalchemy import func, select

from core.db import db
from core.models import Contact, Role, Team, User, utcnow
from core.services.clients import companies, contacts, timeline
from core.services.platform.context import Actor
from core.services.transfer import sample_data
from core.services.users import accounts
from core.services.work import deals, tasks

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - printed to the admin; demo installs only


def _user(email: str, name: str, role_key: str, team: Team) -> User:
    existing = accounts.find_by_email(email)
    if existing is not None:
        return existing
    role = db.session.scalar(select(Role).where(Role.key == role_key))
    user = User(email=email, full_name=name, password_hash=accounts.hash_password(DEMO_PASSWORD),
                roles=[role] if role else [], teams=[team])
    db.session.add(user)
    db.session.flush()
    return user


def fill(size: int = 120, seed: int = 7) -> dict[str, int]:
    """Create a sales team, ``size`` contacts in about ``size // 4`` companies, and their timelines, in the
    installation's language (``MAYAK_LOCALE``, else the country rules')."""
    if db.session.scalar(select(func.count(Contact.id))):
        raise ValueError("the database already has contacts; demo data goes into a fresh installation only")
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = sample_data.texts(locale)
    team = db.session.scalar(select(Team).where(Team.name == lang.team)) or Team(name=lang.team)
    db.session.add(team)
    db.session.flush()
    manager, seller, another = lang.users
    people = [
        _user("manager@demo.example", manager, "manager", team),
        _user("sales1@demo.example", seller, "sales", team),
        _user("sales2@demo.example", another, "sales", team),
    ]
    admin = db.session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.id))
    acting = Actor(admin or people[0], via="demo")
    company_ids = []
    for n in range(max(1, size // 4)):
        name, industry, city = sample_data.company_name(rng, n, locale)
        owner = rng.choice(people)
        company = companies.save(acting, None, {"name": name, "industry": industry, "city": city,
                                                "owner_id": owner.id, "source": rng.choice(lang.sources),
                                                "phones": [{"raw": f"+7 495 {rng.randint(100, 999)}-"
                                                                   f"{rng.randint(10, 99)}-{rng.randint(10, 99)}",
                                                            "kind": "work"}]})
        company_ids.append(company.id)
    now = utcnow()
    for n in range(size):
        p = sample_data.person(rng, n, locale)
        owner = rng.choice(people)
        contact = contacts.save(acting, None, {
            "first_name": p.first_name, "middle_name": p.middle_name, "last_name": p.last_name,
            "phones": [{"raw": p.phone, "kind": "mobile"}], "emails": [{"address": p.email}],
            "city": p.city, "region": p.region, "source": p.source, "owner_id": owner.id,
            "companies": [{"company_id": rng.choice(company_ids), "job_title": p.title}] if rng.random() < 0.8 else [],
            "tags": rng.sample(lang.tags, k=rng.randint(0, 2)),
        })
        for _ in range(rng.randint(0, 6)):
            kind = rng.choice(["note", "call", "email", "meeting", "purchase"])
            when = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 600))
            amount = format_decimal(rng.randint(5, 300) * 1000, locale=locale)
            title = {"note": "", "call": rng.choice(lang.calls), "email": rng.choice(lang.emails),
                     "meeting": rng.choice(lang.meetings), "purchase": lang.purchase.format(amount=amount)}[kind]
            body = rng.choice(lang.notes) if kind in ("note", "meeting") else ""
            timeline.record(kind=kind, contact_id=contact.id, author_id=owner.id, title=title, body=body,
                            occurred_at=when, source="demo")
        db.session.flush()
    counts = _deals_and_tasks(rng, acting, people, size, lang)
    return {"users": len(people), "companies": len(company_ids), "contacts": size, **counts}


def _deals_and_tasks(rng: random.Random, acting: Actor, people: list[User], size: int,
                     lang: sample_data.Texts) -> dict[str, int]:
    """Deals spread over the default pipeline's stages (some won with payments, some lost) and open tasks, some
    overdue, so the board, my day and the team view have something to show."""
    pipeline = deals.ensure_default_pipeline()
    contact_rows = db.session.execute(select(Contact.id, Contact.owner_id).order_by(Contact.id).limit(size)).all()
    made_deals = made_tasks = 0
    for contact_id, owner_id in contact_rows[: max(1, size // 2)]:
        stage = rng.choice(pipeline.stages)
        deal = deals.save(acting, None, {
            "title": rng.choice(lang.deals), "pipeline_id": pipeline.id, "contact_id": contact_id,
            "owner_id": owner_id, "amount": str(rng.randint(3, 400) * 5000),
            "channel": rng.choice(["phone", "email", "web_form", "messenger", "visit"]),
            "source": rng.choice(lang.sources)})
        if stage.id != deal.stage_id:
            deals.move(acting, deal, stage.id, lost_reason=rng.choice(pipeline.lost_reasons or ["—"]))
        if stage.kind == "won":
            deals.add_payment(acting, deal, {"amount": str(deal.amount), "note": lang.payment_note})
        made_deals += 1
        if stage.kind == "open" and rng.random() < 0.7:
            due = utcnow() + timedelta(hours=rng.randint(-48, 24 * 6))
            task = tasks.save(acting, None, {"title": rng.choice(lang.tasks), "owner_id": owner_id,
                                             "deal_id": deal.id, "contact_id": contact_id,
                                             "due_at": max(due, utcnow() + timedelta(minutes=5)),
                                             "priority": rng.choice(["normal", "normal", "high", "low"])})
            if due < utcnow():  # an overdue task, as if it had been set days ago
                task.due_at = due
                db.session.flush()
            made_tasks += 1
    return {"deals": made_deals, "tasks": made_tasks}
