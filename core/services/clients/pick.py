"""The one record picker of the forms (deal, task, inbox): contacts, companies or deals matching what was typed,
that the actor may see, each with a short hint to tell namesakes apart."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import User
from core.services.clients import labels, listing

KINDS = {"contact": listing.CONTACTS, "company": listing.COMPANIES, "deal": listing.DEALS}


@dataclass(frozen=True)
class Choice:
    id: int
    label: str
    hint: str


def candidates(user: User | None, kind: str, typed: str, limit: int = 10) -> list[Choice]:
    """Up to ``limit`` records of ``kind`` found by name, phone, email or company (deals also by title), in the
    list's search and with its access filter; a few statements whatever the number of matches."""
    spec = KINDS[kind]
    rows = listing.page(spec, listing.ListQuery(q=typed.strip()[:200], limit=limit), user).rows
    if kind == "contact":
        return [Choice(c.id, c.display_name, c.phones[0].raw if c.phones else (c.emails[0].address if c.emails
                                                                               else "")) for c in rows]
    if kind == "company":
        return [Choice(c.id, c.name, c.city or "") for c in rows]
    names = labels.linked_names(rows)
    return [Choice(d.id, d.title, " · ".join(n for n in (names["contact"].get(d.contact_id or 0, ""),
                                                          names["company"].get(d.company_id or 0, "")) if n))
            for d in rows]
