"""The OpenAPI 3.1 document of ``/api/v1``, built from the schemas the API enforces (:mod:`core.api.schemas`).

Every operation lists every status it can answer; each error status carries the one error schema. A test runs
schemathesis over this document (``tests/security/test_api_fuzz.py``), so a status or a field the API answers
without documenting it fails the build.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import jsonify

from core.api import schemas
from core.api.schemas import ref

ERROR_TEXT = {
    "400": "The body is not valid JSON, or nests deeper than 32 levels",
    "401": "No token, or a token that is unknown, revoked or expired",
    "403": "The role or the token's scopes do not allow this",
    "404": "No such record, or it was deleted",
    "409": "A concurrent request changed the same data; sending the request again is safe",
    "413": "The body is over the size limit (1 MB by default)",
    "415": "The body is not sent as application/json",
    "422": "A field or parameter is missing, unknown or of the wrong shape; error.fields names each one",
}
READ = ("401", "403", "404", "422")  # 422: a query parameter the operation does not take, or a NUL in one
WRITE = ("400", "401", "403", "404", "409", "413", "415", "422")


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"description": ERROR_TEXT[code], "content": {"application/json": {"schema": ref("Error")}}}
            for code in codes}


def _data(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"data": schema}, "required": ["data"], "additionalProperties": False}}}}


def _one(schema: str, status: str = "200", *errors: str) -> dict[str, Any]:
    return {status: _data(ref(schema)), **_errors(*errors)}


def _page(schema: str, *, with_next: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"data": {"type": "array", "items": ref(schema)},
                                  "next_cursor": {"type": ["string", "null"]}}
    if with_next:
        properties["next"] = {"type": ["string", "null"], "description": "The next page's address"}
    return {"200": {"description": "Newest first; pass next_cursor as after", "content": {"application/json": {
        "schema": {"type": "object", "properties": properties, "required": ["data", "next_cursor"],
                   "additionalProperties": False}}}}, **_errors("401", "403", "422")}


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def _path_id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": schemas.ID_QUERY}]


def _clients(name: str, schema: str, list_params: list[dict[str, Any]]) -> dict[str, Any]:
    item = _path_id("record_id")
    return {
        f"/{name}": {
            "get": {"summary": f"List {name} you may see", "parameters": list_params,
                    "description": "Custom fields filter as custom.<key>=<value> (repeatable); other parameters "
                                   "not listed here are refused with 422.",
                    "x-query-prefixes": ["custom."], "responses": _page(schema, with_next=True)},
            "post": {"summary": f"Create one of the {name}", "requestBody": _body(schema),
                     "responses": _one(schema, "201", *WRITE)},
        },
        f"/{name}/{{record_id}}": {
            "parameters": item,
            "get": {"summary": "Read one", "responses": _one(schema, "200", *READ)},
            "patch": {"summary": "Change the fields sent", "requestBody": _body(f"{schema}Changes"),
                      "responses": _one(schema, "200", *WRITE)},
            "delete": {"summary": "Delete (can be restored in the web UI)",
                       "responses": {"204": {"description": "Deleted"}, **_errors(*READ)}},
        },
        f"/{name}/{{record_id}}/timeline": {
            "parameters": item,
            "get": {"summary": "The timeline, newest first", "parameters": schemas.TIMELINE,
                    "responses": {**_page("Activity"), **_errors("404")}},
        },
    }


def _work() -> dict[str, Any]:
    return {
        "/pipelines": {"get": {"summary": "Pipelines with their ordered stages", "responses": {
            "200": _data({"type": "array", "items": ref("Pipeline")}), **_errors("401", "403", "422")}}},
        "/deals": {
            "get": {"summary": "Deals you may see", "parameters": schemas.DEAL_LIST, "responses": _page("Deal")},
            "post": {"summary": "Create a deal", "requestBody": _body("Deal"),
                     "responses": _one("Deal", "201", *WRITE)}},
        "/deals/{deal_id}": {
            "parameters": _path_id("deal_id"),
            "get": {"summary": "Read a deal", "responses": _one("Deal", "200", *READ)},
            "patch": {"summary": "Change a deal (not its stage)", "requestBody": _body("DealChanges"),
                      "responses": _one("Deal", "200", *WRITE)}},
        "/deals/{deal_id}/move": {"parameters": _path_id("deal_id"), "post": {
            "summary": "Move to a stage of the same pipeline; lost stages need lost_reason",
            "requestBody": _body("Move"), "responses": _one("Deal", "200", *WRITE)}},
        "/tasks": {
            "get": {"summary": "Tasks you may see", "parameters": schemas.TASK_LIST, "responses": _page("Task")},
            "post": {"summary": "Create a task", "requestBody": _body("Task"),
                     "responses": _one("Task", "201", *WRITE)}},
        "/tasks/{task_id}": {
            "parameters": _path_id("task_id"),
            "get": {"summary": "Read a task", "responses": _one("Task", "200", *READ)},
            "patch": {"summary": "Change a task; status done completes it", "requestBody": _body("TaskChanges"),
                      "responses": _one("Task", "200", *WRITE)}},
        "/inbox": {
            "get": {"summary": "Inbox items by status (a contact centre sees what it submitted)",
                    "parameters": schemas.INBOX_LIST, "responses": _page("InboxItem")},
            "post": {"summary": "Submit a lead; a repeated Idempotency-Key returns the first item with 200",
                     "parameters": [schemas.IDEMPOTENCY_KEY], "requestBody": _body("InboxItem"),
                     "responses": {**_one("InboxItem", "201", *WRITE),
                                   "200": _data(ref("InboxItem"), "A repeat: the first item"),
                                   "409": {**_errors("409")["409"], "description": (
                                       "The Idempotency-Key was used for a different lead (error.code "
                                       "idempotency_key_reused; nothing stored), or a concurrent request changed "
                                       "the same data")}}}},
        "/inbox/{item_id}": {"parameters": _path_id("item_id"), "get": {
            "summary": "Read an inbox item", "responses": _one("InboxItem", "200", *READ)}},
        "/inbox/{item_id}/accept": {"parameters": _path_id("item_id"), "post": {
            "summary": "Accept: create the proposed deal/lead, or add to deal_id",
            "requestBody": _body("Accept", required=False), "responses": _one("InboxItem", "200", *WRITE)}},
        "/inbox/{item_id}/reject": {"parameters": _path_id("item_id"), "post": {
            "summary": "Reject with a reason", "requestBody": _body("Reject"),
            "responses": _one("InboxItem", "200", *WRITE)}},
    }


def _version() -> str:
    try:
        return version("mayak-crm")
    except PackageNotFoundError:
        return "0"


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mayak CRM API", "version": _version(),
                 "description": "Errors always answer JSON as the Error schema. Fields marked readOnly are "
                                "ignored when sent; fields not listed are refused with 422."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {**_clients("contacts", "Contact", schemas.CONTACT_LIST),
                  **_clients("companies", "Company", schemas.COMPANY_LIST), **_work()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "mayak users token create EMAIL"}},
            "schemas": schemas.published(schemas.SCHEMAS),
        },
    }


def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
