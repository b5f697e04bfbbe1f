"""The plugin platform inside the core: hook specifications, the manager, the dataclasses hooks return, events,
provider kinds, webhooks, settings and the facades the core calls plugins through.

Plugins do not import this package: they import ``mayak``, the one public plugin API, which re-exports what they
may use (import-linter enforces it). The core's own hook implementations (:mod:`core.hooks`) use the marker here.
"""

import pluggy

from core.plugins.hookspecs import PROJECT

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["hookimpl"]
