"""The OpenAPI 3.1 document of ``/api/v1``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import jsonify

from core.api import bp

PHONE = {"type": "object", "properties": {"raw": {"type": "string"}, "kind": {"type": "string",
         "enum": ["mobile", "work", "home", "fax", "other"]}, "e164": {"type": ["string", "null"], "readOnly": True},
         "valid": {"type": "boolean", "readOnly": True}, "display": {"type": "string", "readOnly": True}},
         "required": ["raw"]}
EMAIL = {"type": "object", "properties": {"address": {"type": "string"}, "kind": {"type": "string",
         "enum": ["work", "personal", "other"]}, "valid": {"type": "boolean", "readOnly": True}},
         "required": ["address"]}
COMMON = {
    "id": {"type": "integer", "readOnly": True}, "city": {"type": "string"}, "region": {"type": "string"},
    "source": {"type": "string"}, "notes": {"type": "string"}, "owner_id": {"type": ["integer", "null"]},
    "team_id": {"type": ["integer", "null"], "readOnly": True},
    "phones": {"type": "array", "items": {"$ref": "#/components/schemas/Phone"}},
    "emails": {"type": "array", "items": {"$ref": "#/components/schemas/Email"}},
    "tags": {"type": "array", "items": {"type": "string"}},
    "custom": {"type": "object", "description": "Admin-defined custom fields by key"},
    "keep_unparsed_phones": {"type": "boolean", "writeOnly": True,
                             "description": "Keep phones that do not parse, flagged, instead of refusing them"},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
}
CONTACT = {"type": "object", "properties": {
    **COMMON, "first_name": {"type": "string"}, "middle_name": {"type": "string"}, "last_name": {"type": "string"},
    "display_name": {"type": "string", "readOnly": True}, "job_title": {"type": "string"},
    "birthday": {"type": ["string", "null"], "format": "date"},
    "companies": {"type": "array", "items": {"type": "object", "properties": {
        "company_id": {"type": "integer"}, "job_title": {"type": "string"},
        "name": {"type": "string", "readOnly": True}}}}}}
COMPANY = {"type": "object", "properties": {
    **COMMON, "name": {"type": "string"}, "industry": {"type": "string"}, "website": {"type": "string"}},
    "required": ["name"]}
ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"},
    "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}}


def _responses(schema: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"data": {"$ref": f"#/components/schemas/{schema}"}}}}}},
        "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"},
    }


def _collection(name: str, schema: str, extra_params: list[dict[str, Any]]) -> dict[str, Any]:
    params = [
        {"name": "q", "in": "query", "schema": {"type": "string"},
         "description": "Search: name prefix, phone in any format, email or company"},
        {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "Cursor from next_cursor"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["name", "created"]}},
        {"name": "dir", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
        {"name": "owner", "in": "query", "schema": {"type": "string"}, "description": "User id, me or none"},
        {"name": "city", "in": "query", "schema": {"type": "string"}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        *extra_params,
    ]
    listing = {"description": "OK", "content": {"application/json": {"schema": {"type": "object", "properties": {
        "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
        "next": {"type": ["string", "null"]}, "next_cursor": {"type": ["string", "null"]}}}}}}
    body = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    item_param = [{"name": "record_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    return {
        f"/{name}": {
            "get": {"summary": f"List {name} you may see", "parameters": params,
                    "responses": {"200": listing, "401": {"$ref": "#/components/responses/Error"},
                                  "422": {"$ref": "#/components/responses/Error"}}},
            "post": {"summary": f"Create one of the {name}", "requestBody": body,
                     "responses": _responses(schema, "201")},
        },
        f"/{name}/{{record_id}}": {
            "parameters": item_param,
            "get": {"summary": "Read one", "responses": _responses(schema)},
            "patch": {"summary": "Change the fields sent", "requestBody": body, "responses": _responses(schema)},
            "delete": {"summary": "Delete (can be restored in the web UI)",
                       "responses": {"204": {"description": "Deleted"},
                                     "403": {"$ref": "#/components/responses/Error"},
                                     "404": {"$ref": "#/components/responses/Error"}}},
        },
        f"/{name}/{{record_id}}/timeline": {
            "parameters": item_param,
            "get": {"summary": "The timeline, newest first", "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string"}},
                {"name": "before", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}, "404": {"$ref": "#/components/responses/Error"}}},
        },
    }


DEAL = {"type": "object", "properties": {
    "id": {"type": "integer", "readOnly": True}, "title": {"type": "string"}, "pipeline_id": {"type": "integer"},
    "stage_id": {"type": "integer", "description": "On create only; move with POST /deals/{id}/move"},
    "stage": {"type": "string", "readOnly": True},
    "status": {"type": "string", "enum": ["open", "won", "lost"], "readOnly": True},
    "amount": {"type": "string", "description": "Decimal, e.g. 150000.00 or 1 250,50"},
    "currency": {"type": "string", "description": "ISO 4217"}, "contact_id": {"type": ["integer", "null"]},
    "company_id": {"type": ["integer", "null"]}, "owner_id": {"type": ["integer", "null"]},
    "source": {"type": "string"}, "channel": {"type": "string",
                                             "enum": ["phone", "email", "web_form", "messenger", "visit", "other"]},
    "expected_close": {"type": ["string", "null"], "format": "date"},
    "probability": {"type": ["integer", "null"], "minimum": 0, "maximum": 100}, "lost_reason": {"type": "string"}},
    "required": ["title", "pipeline_id"]}
TASK = {"type": "object", "properties": {
    "id": {"type": "integer", "readOnly": True}, "title": {"type": "string"}, "notes": {"type": "string"},
    "owner_id": {"type": ["integer", "null"]}, "contact_id": {"type": ["integer", "null"]},
    "company_id": {"type": ["integer", "null"]}, "deal_id": {"type": ["integer", "null"]},
    "due_at": {"type": ["string", "null"], "format": "date-time"},
    "priority": {"type": "string", "enum": ["low", "normal", "high"]},
    "status": {"type": "string", "enum": ["open", "done", "cancelled"]},
    "remind_minutes": {"type": "integer", "writeOnly": True, "description": "Remind this many minutes before due"},
    "remind_via": {"type": "array", "items": {"type": "string", "enum": ["app", "email", "sms"]}}},
    "required": ["title"]}
INBOX_ITEM = {"type": "object", "properties": {
    "id": {"type": "integer", "readOnly": True},
    "channel": {"type": "string", "enum": ["phone", "email", "web_form", "messenger", "visit", "other"]},
    "status": {"type": "string", "enum": ["new", "attached", "accepted", "rejected", "submitted"], "readOnly": True,
               "description": "submitted: the submitter's own view (contact centres), which carries only what "
                              "was sent"},
    "proposal": {"type": "string", "enum": ["attach", "new_deal", "new_lead"], "readOnly": True},
    "name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"},
    "subject": {"type": "string"}, "body": {"type": "string"}, "utm": {"type": "object"},
    "contact_id": {"type": ["integer", "null"], "readOnly": True},
    "deal_id": {"type": ["integer", "null"], "readOnly": True}}}


def _work_paths() -> dict[str, Any]:
    def item(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]

    def listing(schema: str) -> dict[str, Any]:
        return {"200": {"description": "Newest first; pass next_cursor as after", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
                "next_cursor": {"type": ["string", "null"]}}}}}}}

    def body(schema: str) -> dict[str, Any]:
        return {"required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    after = {"name": "after", "in": "query", "schema": {"type": "string"}}
    return {
        "/pipelines": {"get": {"summary": "Pipelines with their ordered stages", "responses": {"200": {
            "description": "OK"}}}},
        "/deals": {"get": {"summary": "Deals you may see", "parameters": [after, *[
            {"name": n, "in": "query", "schema": {"type": "integer"}}
            for n in ("pipeline_id", "stage_id", "owner_id", "contact_id", "company_id")]],
            "responses": listing("Deal")},
            "post": {"summary": "Create a deal", "requestBody": body("Deal"), "responses": _responses("Deal", "201")}},
        "/deals/{deal_id}": {"parameters": item("deal_id"),
                             "get": {"summary": "Read a deal", "responses": _responses("Deal")},
                             "patch": {"summary": "Change a deal (not its stage)", "requestBody": body("Deal"),
                                       "responses": _responses("Deal")}},
        "/deals/{deal_id}/move": {"parameters": item("deal_id"), "post": {
            "summary": "Move to a stage of the same pipeline; lost stages need lost_reason",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object",
                            "properties": {"stage_id": {"type": "integer"}, "lost_reason": {"type": "string"}},
                            "required": ["stage_id"]}}}}, "responses": _responses("Deal")}},
        "/tasks": {"get": {"summary": "Tasks you may see", "parameters": [after, {
            "name": "status", "in": "query", "schema": {"type": "string"}}, *[
            {"name": n, "in": "query", "schema": {"type": "integer"}}
            for n in ("owner_id", "deal_id", "contact_id", "company_id")]], "responses": listing("Task")},
            "post": {"summary": "Create a task", "requestBody": body("Task"), "responses": _responses("Task", "201")}},
        "/tasks/{task_id}": {"parameters": item("task_id"),
                             "get": {"summary": "Read a task", "responses": _responses("Task")},
                             "patch": {"summary": "Change a task; status done completes it",
                                       "requestBody": body("Task"), "responses": _responses("Task")}},
        "/inbox": {"get": {"summary": "Inbox items by status", "parameters": [after, {
            "name": "status", "in": "query", "schema": {"type": "string",
                                                        "enum": ["new", "attached", "accepted", "rejected"]}}],
            "responses": listing("InboxItem")},
            "post": {"summary": "Submit a lead; Idempotency-Key header makes repeats return the first item",
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                     "requestBody": body("InboxItem"), "responses": _responses("InboxItem", "201")}},
        "/inbox/{item_id}": {"parameters": item("item_id"),
                             "get": {"summary": "Read an inbox item", "responses": _responses("InboxItem")}},
        "/inbox/{item_id}/accept": {"parameters": item("item_id"), "post": {
            "summary": "Accept: create the proposed deal/lead, or add to deal_id",
            "responses": _responses("InboxItem")}},
        "/inbox/{item_id}/reject": {"parameters": item("item_id"), "post": {
            "summary": "Reject with a reason", "responses": _responses("InboxItem")}},
    }


def _version() -> str:
    try:
        return version("mayak-crm")
    except PackageNotFoundError:
        return "0"


def document() -> dict[str, Any]:
    phone_param = [{"name": "phone", "in": "query", "schema": {"type": "string"},
                    "description": "Look up by phone, typed in any format (8 916 ..., +7(916)..., 9161234567)"}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mayak CRM API", "version": _version()},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {**_collection("contacts", "Contact", phone_param), **_collection("companies", "Company", []),
                  **_work_paths()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "mayak users token create EMAIL"}},
            "schemas": {"Contact": CONTACT, "Company": COMPANY, "Phone": PHONE, "Email": EMAIL, "Error": ERROR,
                        "Deal": DEAL, "Task": TASK, "InboxItem": INBOX_ITEM},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
