"""The one gate every API request passes: its JSON body is read safely (type, size, depth, syntax) and checked
against the schema the OpenAPI document publishes (:mod:`core.api.schemas`), and its query parameters against
theirs. What fails answers 4xx in the documented error shape, naming each field; the views and services get
only values of the documented shape (no list where a string belongs, no 2^70 id, no NaN, no NUL).

The checker knows the part of JSON Schema the document uses: ``type`` (one or a list), ``enum``, ``minimum``,
``maximum``, ``minLength``, ``maxLength``, ``maxItems``, ``maxProperties``, ``items``, ``properties``,
``required``, ``additionalProperties``, ``readOnly`` (dropped from requests), ``not: {}`` (a field refused here)
and ``$ref`` to the document's components.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.api.schemas import SCHEMAS, registry_enum
from core.services.platform import json_input
from core.services.platform.errors import InvalidInput

MAX_BODY_BYTES = 1024 * 1024  # MAYAK_API_MAX_BODY_BYTES in config overrides it
JSON_TYPES = ("application/json",)


class ApiError(Exception):
    """A request the API refuses before it reaches a view: answered as ``status`` with the error ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- reading the body ---------------------------------------------------------------------------------------

def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


EMPTY: Any = object()  # what read_json answers for a body that is not there (a JSON null is a value)


def body_limit() -> int:
    return int(current_app.config.get("MAYAK_API_MAX_BODY_BYTES", MAX_BODY_BYTES))


def read_json(*, required: bool = True) -> Any:
    """The request's JSON document, or :data:`EMPTY` for an empty body when ``required`` is false.

    400 for broken JSON (NaN and Infinity included: they are not JSON) or nesting deeper than ``MAX_DEPTH``;
    413 above the size limit; 415 when a body comes as anything but JSON."""
    limit = body_limit()
    request.max_content_length = limit  # reading more answers 413 (RequestEntityTooLarge)
    if request.mimetype and not _is_json(request.mimetype):  # before reading: a form body may be parsed already
        raise ApiError(415, "unsupported_media_type",
                       _("Send the body as JSON, with the header Content-Type: application/json."))
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise InvalidInput({"body": _l("Send a JSON object.")})
        return EMPTY
    if not request.mimetype:
        raise ApiError(415, "unsupported_media_type",
                       _("Send the body as JSON, with the header Content-Type: application/json."))
    try:
        return json_input.loads(raw)
    except json_input.BadJson as exc:
        if exc.too_deep:
            raise ApiError(400, "bad_json", _("The JSON is nested too deeply: at most %(depth)s levels.",
                                              depth=json_input.MAX_DEPTH)) from None
        message = (_("The body is not valid JSON (line %(line)s, column %(column)s).", line=exc.line,
                     column=exc.column) if exc.line else _("The body is not valid JSON."))
        raise ApiError(400, "bad_json", message) from None


def body(schema: str, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object checked against the named schema: read-only fields dropped, unknown ones and
    values of the wrong shape refused with 422 naming each field."""
    data = read_json(required=required)
    if data is EMPTY:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput({"body": _l("Send a JSON object.")})
    errors: dict[str, Any] = {}
    cleaned = check(SCHEMAS[schema], data, "", errors)
    if errors:
        raise InvalidInput(errors)
    return cleaned  # type: ignore[no-any-return]


# --- checking values against a schema -----------------------------------------------------------------------

TYPE_MESSAGES = {
    "string": _l("Send text here."),
    "integer": _l("Send a whole number here."),
    "number": _l("Send a number here."),
    "boolean": _l("Send true or false here."),
    "array": _l("Send a list here."),
    "object": _l("Send an object with named fields here."),
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _type_matches(kind: str, types: list[str]) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL refuses it in text) and no lone surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check(schema: Mapping[str, Any], value: Any, path: str, errors: dict[str, Any]) -> Any:
    """``value`` as the API passes it on, or the error under ``path`` in ``errors``."""
    schema = _resolve(schema)
    if "not" in schema:
        errors[path] = REFUSED.get(schema.get("x-refused", ""), _l("This field cannot be sent here."))
        return None
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    kind = _kind(value)
    if kind == "number" and value.is_integer() and "integer" in types and "number" not in types \
            and math.isfinite(value):
        value, kind = int(value), "integer"  # 3.0 is the whole number 3 in JSON
    if types and not _type_matches(kind, types):
        expected = next((t for t in types if t != "null"), "string")
        errors[path] = TYPE_MESSAGES.get(expected, TYPE_MESSAGES["string"])
        return None
    if value is None:
        return None
    enum = registry_enum(schema)
    if enum is not None and value not in enum:
        errors[path] = _l("Use one of: %(values)s.", values=", ".join(map(str, enum)))
        return None
    if kind in ("integer", "number"):
        return _check_number(schema, value, kind, path, errors)
    if kind == "string":
        if not _storable(value):
            errors[path] = _l("Remove the control characters (such as NUL) from this text.")
        elif len(value) > schema.get("maxLength", 100_000):
            errors[path] = _l("Send at most %(count)s characters here.", count=schema.get("maxLength", 100_000))
        elif len(value) < schema.get("minLength", 0):
            errors[path] = _l("Fill this in.")
        return value
    if kind == "array":
        if len(value) > schema.get("maxItems", 1000):
            errors[path] = _l("Send at most %(count)s items here.", count=schema.get("maxItems", 1000))
            return None
        items = schema.get("items", {})
        return [check(items, item, f"{path}.{index}" if path else str(index), errors)
                for index, item in enumerate(value)]
    if kind == "boolean":
        return value
    return _check_object(schema, value, path, errors)


def _check_number(schema: Mapping[str, Any], value: float, kind: str, path: str, errors: dict[str, Any]) -> Any:
    # bounds are the schema's (ids, percentages, minutes); a free number (a custom field) is bounded by its field
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "number" and not math.isfinite(value):
        errors[path] = _l("This number is too large.")
    elif (low is not None and value < low) or (high is not None and value > high):
        errors[path] = _l("Send a number from %(low)s to %(high)s.", low=low, high=high)
    return value


def _check_object(schema: Mapping[str, Any], value: dict[str, Any], path: str, errors: dict[str, Any]) -> Any:
    if len(value) > schema.get("maxProperties", 1000):
        errors[path] = _l("Send at most %(count)s fields here.", count=schema.get("maxProperties", 1000))
        return None
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    result: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if not _storable(key) or len(key) > 200 or not key.isprintable():
            errors[f"{path}.{len(result)}" if path else "body"] = _l(
                "Field names are text of at most 200 characters, without control characters.")
            continue
        if key in properties:
            if _resolve(properties[key]).get("readOnly"):
                continue  # answered by the API, never taken from a request
            result[key] = check(properties[key], item, where, errors)
        elif extra is False:
            errors[where[:200]] = _l("Unknown field: the API documentation lists the fields you can send.")
        elif isinstance(extra, Mapping):
            result[key] = check(extra, item, where, errors)
        else:
            result[key] = item
    for key in schema.get("required", []):
        if key not in value:
            errors[f"{path}.{key}" if path else key] = _l("This field is required.")
    return result


REFUSED = {
    "stage_id": _l("Move a deal with POST /deals/{id}/move."),
    "pipeline_id": _l("Move a deal with POST /deals/{id}/move."),
}


# --- query parameters and headers ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _operations() -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    """Each path of the OpenAPI document as a pattern over the address under ``/api/v1``, with its item."""
    from core.api.openapi import document

    result = []
    for template, item in document()["paths"].items():
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        result.append((re.compile(pattern), item))
    return result


def _operation(path: str, method: str) -> tuple[list[dict[str, Any]], tuple[str, ...]] | None:
    """The documented parameters of this operation (path-level and its own) and the prefixes of the query
    parameters it takes by pattern (``x-query-prefixes``: custom-field filters), or ``None`` if undocumented."""
    for pattern, item in _operations():
        if pattern.fullmatch(path):
            operation = item.get(method.lower())
            if operation is None:
                return None
            return ([*item.get("parameters", []), *operation.get("parameters", [])],
                    tuple(operation.get("x-query-prefixes", ())))
    return None


def check_request(path: str) -> None:
    """Check the query string and the documented headers of the request for the operation at ``path``
    (relative to ``/api/v1``) against the document: a parameter it does not list, or a value not of its
    documented kind, answers 422 naming the parameter. The typed values are kept for :func:`query_args`."""
    found = _operation(path, request.method)
    if found is None:
        return
    parameters, prefixes = found
    errors: dict[str, Any] = {}
    known = {p["name"] for p in parameters if p["in"] == "query"}
    for name in request.args:
        if name not in known and not (prefixes and name.startswith(prefixes)):
            errors[name[:100]] = _l("Unknown parameter: the API documentation lists the parameters you can send.")
    result: dict[str, Any] = {}
    for param in parameters:
        if param["in"] == "query":
            values = request.args.getlist(param["name"])
        elif param["in"] == "header":
            values = request.headers.getlist(param["name"])
        else:
            continue
        if values:
            typed = [_parameter_value(param, raw, errors) for raw in values]
            result[param["name"]] = typed[0] if len(typed) == 1 else typed
    if errors:
        raise InvalidInput(errors)
    g.api_parameters = result


def _parameter_value(param: dict[str, Any], raw: str, errors: dict[str, Any]) -> Any:
    name, schema = param["name"], param["schema"]
    if schema.get("type") == "integer":
        text = raw  # not stripped: "1\r\n" is not a number (and CR/LF have no place in an address)
        if not (text.isascii() and text.lstrip("+-").isdigit() and len(text) <= 20):
            errors[name] = TYPE_MESSAGES["integer"]
            return None
        return check(schema, int(text), name, errors)
    return check(schema, raw, name, errors)


def query_args() -> dict[str, Any]:
    """The documented parameters of this request (query and headers), checked and typed by
    :func:`check_request`: integers as ``int``, a repeated parameter as a list."""
    return dict(g.get("api_parameters") or {})


def register(bp: Any) -> None:
    """Check every API request's parameters against the document before its view runs (after the token)."""

    @bp.before_request
    def check_parameters() -> None:
        if request.url_rule is not None:
            check_request(request.path.removeprefix(bp.url_prefix or ""))
