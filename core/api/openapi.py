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
        "paths": {**_collection("contacts", "Contact", phone_param), **_collection("companies", "Company", [])},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "mayak users token create EMAIL"}},
            "schemas": {"Contact": CONTACT, "Company": COMPANY, "Phone": PHONE, "Email": EMAIL, "Error": ERROR},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
