"""Click-to-call: the PBX rings the manager's own phone (their extension) first, then the client.

Two steps, each in its own transaction, so no database transaction waits on the provider: :func:`prepare` checks
everything and stores the call as ``dialing`` (the page can show "calling…" at once and poll it), then
:func:`dial` asks the provider and stores its answer — the provider's name for the call, or its refusal in the
user's language. The provider's later events find the call by our ``reference`` (or by the number dialled)."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from core.db import db
from core.errors import ProviderError, ProviderNotFound
from core.models import Call, utcnow
from core.net import FetchError
from core.plugins import provider_facades
from core.plugins.events import CallStarted
from core.plugins.facades import default_phone_region
from core.plugins.providers import UNAVAILABLE, CallRequest, NotSupported
from core.services.clients import companies, contacts, phones
from core.services.platform import events
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.telephony import calls
from core.services.users.directory import by_extension
from core.services.work import deals

NO_EXTENSION = _l("Your extension is not set: ask your administrator to enter it in your user settings, so the PBX "
                  "knows which phone to ring.")
NO_PROVIDER = _l("No telephony provider is set up; ask your administrator to enable one.")
CANNOT_DIAL = _l("This telephony provider cannot place calls from the CRM.")
BAD_NUMBER = _l("This is not a phone number that can be dialled; check it.")


def prepare(actor: Actor, number: str, *, contact_id: int | None = None, company_id: int | None = None,
            deal_id: int | None = None) -> Call:
    """Check that ``actor`` may call ``number`` (a client's phone, or a colleague's extension) about the record
    named, and store the call as ``dialing``."""
    user = actor.user
    colleague = by_extension().get((number or "").strip())
    if colleague is None:
        require(user, "view", "contact" if company_id is None else "company")
    contact = contacts.get(actor, contact_id) if contact_id else None
    company = companies.get(actor, company_id) if company_id else None
    deal = deals.get(actor, deal_id) if deal_id else None
    if user is None or not user.extension:
        raise InvalidInput({"extension": NO_EXTENSION})
    parsed = phones.parse(number or "", default_phone_region())
    if parsed.e164 is None and colleague is None:
        raise InvalidInput({"number": BAD_NUMBER})
    try:
        spec = provider_facades.chosen("telephony", team=user.teams[0] if user.teams else None)
    except ProviderNotFound:
        raise InvalidInput({"provider": NO_PROVIDER}) from None
    reference = secrets.token_hex(12)
    call = Call(provider=spec.key, external_id=f"ref:{reference}", reference=reference,
                direction="internal" if colleague is not None else "out", state="dialing",
                client_number=None if colleague is not None else parsed.e164, client_number_raw=number.strip()[:60],
                user_id=user.id, extension=user.extension, contact_id=contact.id if contact else None,
                company_id=company.id if company else (deal.company_id if deal else None),
                deal_id=deal.id if deal else None, started_at=utcnow(), legs={})
    if contact is None and deal is not None:
        call.contact_id = deal.contact_id
    db.session.add(call)
    db.session.flush()
    events.emit(CallStarted(subject_id=call.id, origin=actor.origin, direction=call.direction, provider=spec.key,
                            client_number=call.client_number, user_id=user.id, extension=call.extension,
                            contact_id=call.contact_id, company_id=call.company_id, deal_id=call.deal_id))
    return call


def dial(call: Call) -> Call:
    """Ask the provider to place ``call`` (stored by :func:`prepare` and committed); its refusal ends the call as
    ``failed`` with the reason in the user's language."""
    try:
        provider = provider_facades.telephony(key=call.provider)
        handle = provider.place_call(CallRequest(to=call.client_number or call.client_number_raw,
                                                 extension=call.extension,
                                                 user_id=call.user_id, contact_id=call.contact_id,
                                                 deal_id=call.deal_id, reference=call.reference))
    except (ProviderError, ProviderNotFound) as exc:
        return _refused(call, str(exc))
    except NotSupported:
        return _refused(call, str(CANNOT_DIAL))
    except FetchError:
        return _refused(call, str(UNAVAILABLE))
    if handle.call_id and call.external_id.startswith("ref:"):
        taken = db.session.scalar(db.select(Call.id).where(Call.provider == call.provider,
                                                           Call.external_id == handle.call_id[:200]))
        if taken is None:
            call.external_id = handle.call_id[:200]
    if call.state == "dialing":
        call.state = "ringing"
    db.session.flush()
    return call


def _refused(call: Call, message: str) -> Call:
    now = utcnow()
    call.state, call.outcome, call.error, call.ended_at = "ended", "failed", message[:500], now
    call.wait_seconds = 0
    db.session.flush()
    calls.sync_timeline(call)
    return call
