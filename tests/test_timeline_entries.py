"""The timeline says what happened, in the reader's language (issue 10, item 18).

Every kind of entry the product writes is produced the way the product produces it (deal created, moved, lost,
undone, paid; task set and done; owner changed; merged; file; requests by every channel), then the client's card
is read in Russian: each entry must say in words what happened, not only repeat a title.
"""

from __future__ import annotations

import io
import re
from html import unescape

from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import ACTIVITY_KINDS, Activity, User
from core.services.clients import contacts, files, merge, timeline
from core.services.platform.context import Actor
from core.services.work import deals, inbox, tasks
from core.testing.fixtures import create_user, sign_in

ENTRY = re.compile(r'<li class="timeline-entry kind-(\w+)" id="activity-(\d+)">(.*?)</li>\n', re.S)


def _text(html: str) -> str:
    """What a reader sees of an entry, less its time and author line."""
    what = html.split('<div class="timeline-what">', 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", what)).split())


def _produce_every_kind(actor: Actor, other: User) -> tuple[int, dict[str, list[str]]]:
    """Write entries as the product does; returns the contact and, per kind, the Russian each must say."""
    pipeline = deals.ensure_default_pipeline()
    stages = {s.kind: s for s in pipeline.stages}
    client = contacts.save(actor, None, {"first_name": "Ирина", "last_name": "Смирнова",
                                         "phones": [{"raw": "+7 916 555 44 33"}],
                                         "emails": [{"address": "irina@example.com"}]})
    twin = contacts.save(actor, None, {"first_name": "Ирина", "last_name": "Смирнова"})
    expected: dict[str, list[str]] = {}
    timeline.add_note(actor, contact=client, body="Просила перезвонить после обеда")
    expected["note"] = ["Заметка"]
    deal = deals.save(actor, None, {"title": "Кухня", "pipeline_id": pipeline.id, "amount": "120000",
                                    "contact_id": client.id})
    expected["deal"] = ["Сделка создана: Кухня", "120"]
    negotiation = pipeline.stages[3]
    deals.move(actor, deal, negotiation.id)
    deals.move(actor, deal, stages["lost"].id, lost_reason=pipeline.lost_reasons[0], comment="нашли дешевле")
    deals.undo_move(actor, deal, deals.last_change(deal).id)
    # the pipeline was seeded in English (the tests' installation language): its names read in Russian here
    expected["stage"] = ["Этап: Новая заявка → Переговоры",
                         "Этап: Переговоры → Проиграна, причина: Слишком дорого",
                         "нашли дешевле", "Перемещение отменено", "Сделка: Кухня"]
    deals.add_payment(actor, deal, {"amount": "50000", "note": "аванс"})
    expected["payment"] = ["Получена оплата", "50", "аванс"]
    task = tasks.save(actor, None, {"title": "Замерить кухню", "contact_id": client.id, "owner_id": other.id,
                                    "due_at": "2031-03-05 10:00"})
    tasks.set_status(actor, task, "done")
    expected["task"] = ["Поставлена задача: Замерить кухню", "исполнитель: Олег Петров", "Задача выполнена"]
    contacts.save(actor, client, {"owner_id": other.id}, partial=True)
    expected["owner"] = ["Ответственный:", "→ Олег Петров"]
    merge.merge(actor, client.id, [twin.id], {})
    expected["merge"] = ["Объединено с 1 дублем"]
    files.store(actor, stream=io.BytesIO(b"%PDF-1.4 smeta"), filename="смета.pdf", contact=client)
    expected["file"] = ["Добавлен файл: смета.pdf"]
    # requests from every channel attach to the client's open deal and land on the timeline by channel
    by_channel = {"phone": ("call", "Входящий звонок"), "email": ("email", "Получено письмо"),
                  "messenger": ("sms", "Получено сообщение (мессенджер)"), "visit": ("meeting", "Встреча"),
                  "web_form": ("note", "Заявка (форма на сайте)")}
    for channel, (kind, words) in by_channel.items():
        inbox.receive(inbox.IncomingItem(channel=channel, name="Ирина", phone="+7 916 555 44 33",
                                         subject=f"Запрос {channel}"))
        expected.setdefault(kind, []).append(words)
    db.session.commit()
    # kinds that only plugins and the demo write, through the public timeline.record
    timeline.record(kind="call", contact_id=client.id, title="Уточнить размеры",
                    data={"direction": "out", "duration": 125}, source="telephony")
    expected["call"] += ["Исходящий звонок", "2 мин 05 с"]
    timeline.record(kind="sms", contact_id=client.id, title="Замер завтра в 10:00", data={"direction": "out"})
    expected["sms"].append("Отправлено SMS")
    timeline.record(kind="email", contact_id=client.id, title="Смета", data={"direction": "out"})
    expected["email"].append("Отправлено письмо")
    timeline.record(kind="purchase", contact_id=client.id, title="Фасады",
                    data={"amount": "30000", "currency": "RUB"})
    expected["purchase"] = ["Покупка", "30"]
    timeline.record(kind="system", contact_id=client.id, title="Переход из рекламы")
    expected["system"] = ["Событие: Переход из рекламы"]
    return client.id, expected


def test_every_kind_of_entry_says_what_happened_in_russian(app, client):
    boss = create_user(app, "boss@example.com", is_admin=True, full_name="Анна Босс", locale="ru")
    other = create_user(app, "oleg@example.com", is_admin=True, full_name="Олег Петров", locale="ru")
    with app.app_context(), unit_of_work():
        contact_id, expected = _produce_every_kind(Actor(db.session.get(User, boss.id)),
                                                   db.session.get(User, other.id))
        rows = db.session.execute(select(Activity.id, Activity.kind, Activity.title)
                                  .where(Activity.contact_id == contact_id)).all()
        written, titles = {kind for _, kind, _ in rows}, {ident: title for ident, _, title in rows}
    assert written == set(ACTIVITY_KINDS), "every kind of entry is produced here (add the new kind above)"
    assert set(expected) == set(ACTIVITY_KINDS)
    sign_in(client, "boss@example.com")
    page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    entries = ENTRY.findall(page)
    assert len(entries) >= 20
    said: dict[str, list[str]] = {}
    for kind, ident, html in entries:
        text = _text(html)
        assert text and text != titles[int(ident)].strip(), f"the {kind} entry says only its title: {text!r}"
        assert re.search("[а-яё]", text, re.I), f"{kind} entry is not in Russian: {text!r}"
        for english in ("Deal created", "Stage:", "Owner", "Task", "Payment", "Merged", "File added", "call",
                        "Email", "Meeting", "Purchase", "Event", "reason"):
            assert english not in text, f"{kind} entry is half English: {text!r}"
        said.setdefault(kind, []).append(text)
    for kind, words in expected.items():
        joined = " | ".join(said.get(kind, []))
        for word in words:
            assert word in joined, f"the {kind} entries should say {word!r}; they say {joined!r}"


def test_entries_read_in_the_readers_language_not_the_writers(app, client):
    """The same stored entry reads in English for an English reader: no sentence is stored."""
    boss = create_user(app, "boss@example.com", is_admin=True, full_name="Anna Boss", locale="ru")
    create_user(app, "en@example.com", is_admin=True, locale="en")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, boss.id))
        pipeline = deals.ensure_default_pipeline()
        person = contacts.save(actor, None, {"first_name": "Ирина"})
        deal = deals.save(actor, None, {"title": "Кухня", "pipeline_id": pipeline.id, "contact_id": person.id})
        deals.move(actor, deal, pipeline.stages[-1].id, lost_reason=pipeline.lost_reasons[1])
        stored = [e.data for e in db.session.scalars(select(Activity).where(Activity.contact_id == person.id))]
        person_id = person.id
    assert all("Сделка" not in str(data) and "Deal created" not in str(data) for data in stored)
    sign_in(client, "en@example.com")
    page = client.get(f"/contacts/{person_id}").get_data(as_text=True)
    assert "Deal created: " in page and "Stage: " in page and "reason: " in page and "Сделка создана" not in page
