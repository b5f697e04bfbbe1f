"""Reading JSON that strangers send (the API, public lead forms): only real JSON, only as deep as a form can be.

Python's reader accepts ``NaN`` and ``Infinity`` (not JSON; stored, they make every answer that carries them
unreadable) and, nested a thousand levels deep, fails with ``RecursionError`` — which is not a ``ValueError``,
so callers that catch bad JSON let it through as a server error. Here both are a :class:`BadJson`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class BadJson(ValueError):
    """The bytes are not JSON we take. ``too_deep`` tells nesting apart from broken syntax; ``line`` and
    ``column`` place a syntax error."""

    def __init__(self, *, too_deep: bool = False, line: int = 0, column: int = 0) -> None:
        super().__init__("too deep" if too_deep else f"not JSON at line {line}, column {column}")
        self.too_deep, self.line, self.column = too_deep, line, column


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and objects at most ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in ``raw``; :class:`BadJson` for anything else. Numbers too large for a float (``1e400``)
    read as infinity: the schema or the field that receives them refuses them with the field's name."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadJson(too_deep=True) from None
    except json.JSONDecodeError as exc:
        raise BadJson(line=exc.lineno, column=exc.colno) from None
    except (ValueError, UnicodeDecodeError):
        raise BadJson() from None
    if not depth_ok(data, max_depth):
        raise BadJson(too_deep=True)
    return data
