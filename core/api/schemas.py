"""The JSON schemas of ``/api/v1``: one definition per body, used twice — published in the OpenAPI document and
enforced on every request (:mod:`core.api.validation`), so what the document says is what the API accepts.

Conventions: ``readOnly`` properties are answered but ignored when sent (a body read with GET can be sent back);
properties not listed are refused; every integer is bounded (ids fit a 64-bit column), every string and list has
a maximum size. ``*Changes`` schemas are the PATCH bodies: the same fields, none required.
"""

from __future__ import annotations

from typing import Any

from core.models.contacts import EMAIL_KINDS, PHONE_KINDS
from core.models.tasks import PRIORITIES, REMINDER_CHANNELS, TASK_STATUSES
from core.services.platform.params import MAX_ID  # ids fit the Integer columns

MAX_TEXT = 20000  # notes and bodies
PAGE_LIMIT = 200


def text(limit: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, **extra}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
OPTIONAL_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
READ_ID = {**ID, "readOnly": True}
READ_OPTIONAL_ID = {**OPTIONAL_ID, "readOnly": True}
STAMP = {"type": "string", "format": "date-time", "readOnly": True}
OPTIONAL_STAMP = {"type": ["string", "null"], "format": "date-time", "readOnly": True}
READ_TEXT = {"type": "string", "readOnly": True}
# dates as people and systems send them; what does not read as one answers 422 naming the field
DATE = {"type": ["string", "null"], "maxLength": 40,
        "description": "A date: YYYY-MM-DD or DD.MM.YYYY; empty or null clears it"}
DATE_TIME = {"type": ["string", "null"], "maxLength": 40,
             "description": "ISO 8601 (2025-12-31T15:00:00+03:00), or DD.MM.YYYY HH:MM in your time zone; "
                            "empty or null clears it"}


# an open registry (plugins add channels): the checker and the published document read its keys at request time
CHANNEL = {"type": "string", "maxLength": 20, "x-mayak-registry": "channels"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


PHONE = _object({
    "raw": text(64, minLength=1, description="The number as typed, in any format"),
    "kind": {"type": "string", "enum": list(PHONE_KINDS)},
    "e164": {"type": ["string", "null"], "readOnly": True, "description": "Normalised form, null if unreadable"},
    "valid": {"type": "boolean", "readOnly": True}, "display": READ_TEXT}, ("raw",))
EMAIL = _object({
    "address": text(254, minLength=1), "kind": {"type": "string", "enum": list(EMAIL_KINDS)},
    "valid": {"type": "boolean", "readOnly": True}}, ("address",))
CUSTOM_VALUE = {"type": ["string", "number", "boolean", "array", "null"], "maxLength": 2000, "maxItems": 50,
                "items": text(120)}
CLIENT = {
    "id": READ_ID, "city": text(120), "region": text(120), "source": text(120), "notes": text(MAX_TEXT),
    "owner_id": {**OPTIONAL_ID, "description": "Needs the assign right; otherwise ignored"},
    "team_id": {"type": ["integer", "null"], "readOnly": True, "description": "The owner's team"},
    "phones": {"type": "array", "maxItems": 20, "items": ref("Phone")},
    "emails": {"type": "array", "maxItems": 20, "items": ref("Email")},
    "tags": {"type": "array", "maxItems": 50, "items": text(80)},
    "custom": {"type": "object", "maxProperties": 200, "additionalProperties": CUSTOM_VALUE,
               "description": "Admin-defined custom fields by key; numbers are finite, at most 15 digits"},
    "keep_unparsed_phones": {"type": "boolean", "writeOnly": True,
                             "description": "Keep phones that do not parse, flagged, instead of refusing them"},
    "created_at": STAMP, "updated_at": STAMP, "last_activity_at": OPTIONAL_STAMP,
}
CONTACT = _object({
    **CLIENT, "first_name": text(120), "middle_name": text(120), "last_name": text(120),
    "display_name": READ_TEXT, "job_title": text(200),
    "birthday": {**DATE, "description": f"{DATE['description']}; a past date after 1900"},
    "companies": {"type": "array", "maxItems": 20, "items": _object({
        "company_id": ID, "job_title": text(200), "name": READ_TEXT}, ("company_id",))}})
COMPANY = _object({**CLIENT, "name": text(300), "industry": text(120), "website": text(300)},
                  ("name",))

DEAL = _object({
    "id": READ_ID, "title": text(300), "pipeline_id": ID,
    "stage_id": {**ID, "description": "On create only; move with POST /deals/{id}/move"},
    "stage": READ_TEXT, "status": {"type": "string", "enum": ["open", "won", "lost"], "readOnly": True},
    "amount": {"type": ["string", "number"], "maxLength": 40,
               "description": "Decimal, e.g. 150000.00 or \"1 250,50\"; zero or more, below 10^12"},
    "currency": text(3, description="ISO 4217"), "contact_id": OPTIONAL_ID, "company_id": OPTIONAL_ID,
    "owner_id": OPTIONAL_ID, "source": text(200), "channel": CHANNEL,
    "utm": {"type": "object", "readOnly": True},
    "expected_close": DATE,
    "probability": {"type": ["integer", "null"], "minimum": 0, "maximum": 100}, "lost_reason": text(200),
    "created_at": STAMP, "updated_at": STAMP, "closed_at": OPTIONAL_STAMP}, ("title", "pipeline_id"))
MOVE = _object({"stage_id": ID, "lost_reason": text(200, description="Required for a lost stage")}, ("stage_id",))

TASK = _object({
    "id": READ_ID, "title": text(300), "notes": text(MAX_TEXT), "owner_id": OPTIONAL_ID,
    "author_id": READ_OPTIONAL_ID, "contact_id": OPTIONAL_ID, "company_id": OPTIONAL_ID, "deal_id": OPTIONAL_ID,
    "due_at": DATE_TIME,
    "priority": {"type": "string", "enum": list(PRIORITIES)},
    "status": {"type": "string", "enum": list(TASK_STATUSES), "readOnly": True,
               "description": "Change it with PATCH; done completes the task"},
    "remind_minutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 43200, "writeOnly": True,
                       "description": "Remind this many minutes before due"},
    "remind_at": DATE_TIME,
    "remind_via": {"type": "array", "maxItems": 3, "items": {"type": "string", "enum": list(REMINDER_CHANNELS)}},
    "recurrence_id": READ_OPTIONAL_ID, "created_at": STAMP, "completed_at": OPTIONAL_STAMP}, ("title",))

INBOX_STATUSES = ["new", "attached", "accepted", "rejected"]
INBOX_ITEM = _object({
    "id": READ_ID, "channel": CHANNEL,
    "status": {"type": "string", "enum": [*INBOX_STATUSES, "submitted"], "readOnly": True,
               "description": "submitted: the submitter's own view (contact centres), which carries only what "
                              "was sent"},
    "proposal": {"type": "string", "enum": ["attach", "new_deal", "new_lead"], "readOnly": True},
    "name": text(300), "phone": text(60), "phone_e164": {"type": ["string", "null"], "readOnly": True},
    "email": text(254), "subject": text(300), "body": text(MAX_TEXT),
    "utm": {"type": "object", "maxProperties": 20, "additionalProperties": text(200)},
    "idempotency_key": text(200, minLength=1, writeOnly=True,
                            description="Same as the Idempotency-Key header: a repeat returns the first item"),
    "contact_id": READ_OPTIONAL_ID, "deal_id": READ_OPTIONAL_ID, "owner_id": READ_OPTIONAL_ID,
    "reject_reason": READ_TEXT, "received_at": STAMP})
ACCEPT = _object({"deal_id": {**OPTIONAL_ID, "description": "Add the request to this deal instead"}})
REJECT = _object({"reason": text(200, description="Why, such as spam")}, ("reason",))

STAGE = _object({"id": READ_ID, "name": READ_TEXT, "kind": {"type": "string", "enum": ["open", "won", "lost"]},
                 "position": {"type": "integer"}, "probability": {"type": ["integer", "null"]}})
PIPELINE = _object({"id": READ_ID, "name": READ_TEXT, "currency": READ_TEXT,
                    "stages": {"type": "array", "items": ref("Stage")}})
ACTIVITY = _object({
    "id": READ_ID, "kind": READ_TEXT, "occurred_at": STAMP, "title": READ_TEXT, "body": READ_TEXT,
    "data": {"type": "object", "readOnly": True}, "author_id": READ_OPTIONAL_ID, "source": READ_TEXT,
    "external_id": {"type": ["string", "null"], "readOnly": True}, "contact_id": READ_OPTIONAL_ID,
    "company_id": READ_OPTIONAL_ID})
ERROR = _object({"error": _object({
    "code": {"type": "string", "description": "invalid, unauthorized, forbidden, not_found, bad_json, …"},
    "message": {"type": "string", "description": "What to fix, in the language of Accept-Language"},
    "fields": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "Per field (phones.0, custom.size, body): what is wrong with it"}},
    ("code", "message"))}, ("error",))


def changes(schema: dict[str, Any], *, refuse: dict[str, str] | None = None) -> dict[str, Any]:
    """The PATCH body of ``schema``: nothing required; ``refuse`` names fields that cannot change here, with the
    reason (they answer 422 instead of being ignored, so a client is not misled)."""
    properties = dict(schema["properties"])
    for name, reason in (refuse or {}).items():
        properties[name] = {"not": {}, "description": reason, "x-refused": name}
    return {"type": "object", "properties": properties, "additionalProperties": False}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Contact": CONTACT, "ContactChanges": changes(CONTACT), "Company": COMPANY, "CompanyChanges": changes(COMPANY),
    "Phone": PHONE, "Email": EMAIL, "Deal": DEAL,
    "DealChanges": changes(DEAL, refuse={"stage_id": "Move a deal with POST /deals/{id}/move",
                                         "pipeline_id": "Move a deal with POST /deals/{id}/move"}),
    "Move": MOVE, "Task": TASK,
    "TaskChanges": changes({**TASK, "properties": {**TASK["properties"], "status": {
        "type": "string", "enum": list(TASK_STATUSES), "description": "done completes the task"}}}),
    "InboxItem": INBOX_ITEM, "Accept": ACCEPT, "Reject": REJECT, "Stage": STAGE, "Pipeline": PIPELINE,
    "Activity": ACTIVITY, "Error": ERROR,
}


# --- query parameters ---------------------------------------------------------------------------------------

def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        param["description"] = description
    return param


AFTER = query("after", text(1000), "Cursor from next_cursor")
CLIENT_LIST = [
    query("q", text(200), "Search: name prefix (either word order), phone in any format, email or company"),
    AFTER,
    query("limit", {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT}),
    query("sort", {"type": "string", "enum": ["name", "created"]}),
    query("dir", {"type": "string", "enum": ["asc", "desc"]}),
    query("owner", text(200), "User id, me or none"),
    query("city", text(200)), query("region", text(200)), query("source", text(200)), query("tag", text(200)),
    query("created_from", text(40), "Date, e.g. 2025-12-31 or 31.12.2025"),
    query("created_to", text(40), "Date, e.g. 2025-12-31 or 31.12.2025"),
    query("has_phone", {"type": "string", "enum": ["0", "1"]}),
    query("has_email", {"type": "string", "enum": ["0", "1"]}),
    query("quiet_days", {"type": "integer", "minimum": 0, "maximum": 36500},
          "No activity for this many days"),
]
CONTACT_LIST = [*CLIENT_LIST, query("job_title", text(200)),
                query("company", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Company id"),
                query("birthday_month", {"type": "integer", "minimum": 1, "maximum": 12}),
                query("phone", text(60), "Look up by phone, typed in any format (8 916 ..., +7(916)..., "
                                         "9161234567)")]
COMPANY_LIST = [*CLIENT_LIST, query("industry", text(200))]
ID_QUERY = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DEAL_LIST = [query("after", ID_QUERY, "Cursor from next_cursor"),
             *[query(n, ID_QUERY) for n in ("pipeline_id", "stage_id", "owner_id", "contact_id", "company_id")]]
TASK_LIST = [query("after", ID_QUERY, "Cursor from next_cursor"),
             query("status", {"type": "string", "enum": list(TASK_STATUSES)}),
             *[query(n, ID_QUERY) for n in ("owner_id", "deal_id", "contact_id", "company_id")]]
INBOX_LIST = [query("after", ID_QUERY, "Cursor from next_cursor"),
              query("status", {"type": "string", "enum": INBOX_STATUSES})]
TIMELINE = [query("kind", text(40), "Only entries of this kind (repeatable)"),
            query("before", text(100), "Cursor from next_cursor")]
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "schema": text(200, minLength=1),
                   "description": "A repeated delivery with the same key returns the first item (200)"}


def registry_enum(schema: dict[str, Any]) -> tuple[Any, ...] | list[Any] | None:
    """The values ``schema`` allows: its ``enum``, or the keys of the open registry it names (``x-mayak-registry``:
    the inbox channels, which plugins extend)."""
    if "enum" in schema:
        return list(schema["enum"])
    if schema.get("x-mayak-registry") == "channels":
        from flask import has_app_context

        from core.models.deals import CHANNELS
        from core.plugins import provider_facades

        # outside an app (a script reading the document) only core's own channels are known
        return provider_facades.channel_keys() if has_app_context() else CHANNELS
    return None


def published(value: Any) -> Any:
    """``value`` (a schema or the components) as the OpenAPI document shows it: registry references resolved to
    the installation's ``enum``."""
    if isinstance(value, dict):
        if "x-mayak-registry" in value:
            resolved = {k: v for k, v in value.items() if k != "x-mayak-registry"}
            return {**resolved, "enum": list(registry_enum(value) or [])}
        return {k: published(v) for k, v in value.items()}
    if isinstance(value, list):
        return [published(v) for v in value]
    return value
