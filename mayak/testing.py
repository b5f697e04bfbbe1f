"""Test support for plugins: the core's pytest fixtures, the conformance kit per provider kind and the URL-map
security checks, re-exported.

In the plugin's ``conftest.py``::

    pytest_plugins = ["mayak.testing"]

and its tests get ``app``, ``client``, ``login``, ``make_user``, ``make_app``... (see ``docs/plugins.md``, Testing a
plugin); ``from mayak.testing import MessagingConformance, fake_api, assert_url_map_safe`` for the rest.
"""

from __future__ import annotations

from core.testing import conformance as _conformance
from core.testing import fixtures as _fixtures
from core.testing import security as _security


def _defined_in(module: object) -> list[str]:
    """What ``module`` defines (fixtures, helpers, classes, constants), not what it imports."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    found = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        home = getattr(value, "__module__", None) or getattr(getattr(value, "_fixture_function", None),
                                                             "__module__", None)
        if home == module.__name__ or (name.isupper() and isinstance(value, (str, int, dict))):  # type: ignore[attr-defined]
            found.append(name)
    return found


__all__ = sorted({*_defined_in(_fixtures), *_defined_in(_conformance), *_defined_in(_security)})
for _module in (_fixtures, _conformance, _security):
    globals().update({name: getattr(_module, name) for name in __all__ if hasattr(_module, name)})
