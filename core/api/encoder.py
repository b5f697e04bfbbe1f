"""JSON out of the application is always JSON: ``NaN`` and ``Infinity`` (which Python's encoder writes by
default, and which no JSON parser reads) are written as ``null``.

Values like that cannot be stored any more (custom number fields refuse them), but rows written before that
check, or by a plugin, would otherwise make every answer that contains them unreadable to the client."""

from __future__ import annotations

import json
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (no recursion: bodies can be deep)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, dict | list | tuple):
        return value
    root: Any = dict(value) if isinstance(value, dict) else list(value)
    stack = [root]
    while stack:
        node = stack.pop()
        keys = list(node.keys()) if isinstance(node, dict) else range(len(node))
        for key in keys:
            item = node[key]
            if isinstance(item, float) and not math.isfinite(item):
                node[key] = None
            elif isinstance(item, dict | list | tuple):
                node[key] = dict(item) if isinstance(item, dict) else list(item)
                stack.append(node[key])
    return root


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's provider with ``allow_nan=False``; a body holding NaN is cleaned and written again."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return json.dumps(_finite(obj), allow_nan=False, **kwargs)
