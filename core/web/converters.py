"""Numbers in addresses and forms, for the whole app (pages, partials, the API and plugin routes alike).

``<int:...>`` is replaced so that every integer in a path is an id a database column can hold: ASCII digits only
(Werkzeug's ``\\d`` also matches other scripts' digits) and at most 2**63 - 1 (PostgreSQL's ``bigint`` and
SQLite's ``INTEGER``). A larger number is simply no record: 404, never an overflow in the database (500).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter, Map, UnicodeConverter, ValidationError

from core.services.platform.params import MAX_ID, integer


def _at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``limit`` (no leading zeros beyond its width)."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"]
    for index, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - index - 1
            options.append(f"{digits[:index]}[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


class IdConverter(IntegerConverter):
    """Werkzeug's integer converter, bounded to the 64-bit signed range unless a route asks for less.

    The bound is in the regular expression, not only in ``to_python``: Werkzeug's matcher notes a rule whose path
    fits but whose method does not before it runs converters, so a refusal there made ``PATCH /api/v1/contacts/
    9223372036854775808`` a 405 (the GET rule fit) where ``GET`` got 404."""

    regex = _at_most(MAX_ID)

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min if min is not None else -MAX_ID - 1,
                         max=max if max is not None else MAX_ID, signed=signed)

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-")) > 19:  # no need to build a huge int to know it is out of range
            raise ValidationError()
        return super().to_python(value)


class TextConverter(UnicodeConverter):
    """A text path segment (``<key>``, ``<entity>``, ``<name>``) without control characters: a NUL, CR or LF in an
    address names nothing (404) and never reaches a view, a header or the database (PostgreSQL refuses NUL)."""

    def __init__(self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00-\\x1f\\x7f]")


class Parameters(ImmutableMultiDict):  # type: ignore[type-arg]
    """Query-string and form values where ``.get(name, type=int)`` means a whole number a database column holds.

    Werkzeug's own ``type=int`` would pass ``9223372036854775808`` on (an overflow in the database: 500) and quietly
    drop ``abc``; here a present value that is not such a number is refused (``params.BadParameter``: a 400 that
    names the parameter), like every other bad parameter. Other types behave as in Werkzeug."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        if type is int:
            value = super().get(key)
            if value is None or not str(value).strip():
                return default
            return integer(str(key), value)
        return super().get(key, default, type) if type is not None else super().get(key, default)


class MayakRequest(Request):
    parameter_storage_class = Parameters


def init_converters(app: Flask) -> None:
    """Register before any blueprint: rules pick their converter class when they are added to the map."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    app.request_class = MayakRequest
