"""Plugin discovery and loading: entry points in the ``mayak`` group, enabled and configured by ``plugins.toml``.

Start-up stops with one :class:`~core.errors.StartupError` line when a plugin is unknown, fails to import,
implements a hook wrongly, or references a secret environment variable that is not set.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import logging
import os
import tomllib
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from core.errors import StartupError
from core.plugins import hookspecs
from core.plugins.types import PluginInfo

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mayak"
CORE_PLUGIN = "core"


class Policy(enum.Enum):
    """What :meth:`MayakPlugins.call` does when an implementation raises, and whether it stops at an answer."""

    STRICT = "strict"
    ISOLATED = "isolated"
    FIRST = "first"


@dataclasses.dataclass(frozen=True)
class HookResult:
    """One implementation's answer: the plugin, what it returned, and the exception when it failed (ISOLATED)."""

    plugin: str
    value: Any
    error: Exception | None = None


def secret_field(**kwargs: Any) -> Any:
    """Declare a setting that must come from ``{ env = "NAME" }`` in ``plugins.toml``, never a literal value."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["secret"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def core_table_names() -> list[str]:
    """The core's tables (and its migration version table), from the models' metadata."""
    from core.models import CORE_TABLES

    return sorted([*CORE_TABLES, "alembic_version"])


def check_name(name: str) -> None:
    """Refuse a plugin name that would take core tables: migrations give every ``<name>_*`` table to the plugin
    ``<name>`` (``core.migrate``), so a plugin named ``inbox`` would own ``inbox_item``."""
    if name == CORE_PLUGIN:
        raise StartupError(f"plugin name {name!r} is the core's own; rename the plugin")
    claimed = [table for table in core_table_names() if table == name or table.startswith(f"{name}_")]
    if claimed:
        raise StartupError(
            f"plugin name {name!r} would claim the core tables {', '.join(claimed[:3])}"
            f"{' ...' if len(claimed) > 3 else ''} (a plugin owns every {name}_* table); rename the plugin"
        )


class MayakPlugins:
    """The loaded plugins of one app: the pluggy manager plus what each enabled plugin brings."""

    def __init__(self, config_file: Path, available: Iterable[EntryPoint] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.config_file = config_file
        # where ``{ env = "NAME" }`` settings are looked up: the app's environment (create_app(environ=...)), so a
        # test's secrets never leak into, or depend on, the process environment
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.available: dict[str, EntryPoint] = {
            ep.name: ep for ep in (available if available is not None else entry_points(group=ENTRY_POINT_GROUP))
        }
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.enabled: list[PluginInfo] = []

    # -- loading ----------------------------------------------------------------------------------------

    def load(self, core_module: ModuleType, extra: Iterable[tuple[str, ModuleType]] = ()) -> None:
        self._register(CORE_PLUGIN, core_module)
        for name, table in self._read_config().items():
            if not table.get("enabled", True):
                continue
            check_name(name)
            module = self._import(name, table)
            info = PluginInfo(
                name=name,
                module_name=module.__name__,
                version=self._version(name, module),
                distribution=self._distribution(name),
                root=Path(module.__file__ or ".").resolve().parent,
                settings=self._settings(name, module, table),
                bundled=module.__name__.startswith("plugins."),
            )
            self._register(name, module)
            self.enabled.append(info)
        for name, module in extra:
            check_name(name)
            self._register(name, module)
            self.enabled.append(
                PluginInfo(name, module.__name__, "0", None, Path(module.__file__ or ".").resolve().parent,
                           None, False)
            )
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or getattr(exc.plugin, "__name__", "?")
            raise StartupError(
                f"plugin {name!r} implements an unknown hook: {exc}; fix the name (see docs/plugins.md)"
            ) from exc

    def _read_config(self) -> dict[str, dict[str, Any]]:
        if not self.config_file.exists():
            raise StartupError(
                f"{self.config_file} not found: create it (see plugins.toml in the source) or set MAYAK_PLUGINS_FILE"
            )
        try:
            data = tomllib.loads(self.config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise StartupError(f"{self.config_file} is not valid TOML: {exc}") from exc
        plugins = data.get("plugins", {})
        if not isinstance(plugins, dict):
            raise StartupError(f"{self.config_file}: [plugins] must be a table of [plugins.<name>] tables")
        for name, table in plugins.items():
            if not isinstance(table, dict):
                raise StartupError(f"{self.config_file}: plugins.{name} must be a table: write [plugins.{name}]")
        return plugins

    def _import(self, name: str, table: dict[str, Any]) -> ModuleType:
        local_module = table.get("module")
        if name not in self.available and not local_module:
            installed = ", ".join(sorted(self.available)) or "none"
            raise StartupError(
                f"{self.config_file}: unknown plugin {name!r} (installed: {installed}); "
                f"install it with pip or remove [plugins.{name}]"
            )
        try:
            if local_module:
                return importlib.import_module(str(local_module))
            loaded = self.available[name].load()
        except Exception as exc:
            raise StartupError(
                f"plugin {name!r} failed to import: {type(exc).__name__}: {exc}; "
                f"reinstall it or set enabled = false under [plugins.{name}]"
            ) from exc
        if not isinstance(loaded, ModuleType):
            raise StartupError(f"plugin {name!r}: its entry point must name a module of hook implementations")
        return loaded

    def _register(self, name: str, module: ModuleType) -> None:
        try:
            self.pm.register(module, name=name)
        except pluggy.PluginValidationError as exc:
            raise StartupError(f"plugin {name!r} has a wrong hook implementation: {exc}") from exc
        except ValueError as exc:
            raise StartupError(f"plugin {name!r} is registered twice: {exc}") from exc
        for caller in self.pm.get_hookcallers(module) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is module and (impl.hookwrapper or impl.wrapper):
                    raise StartupError(f"plugin {name!r}: {caller.name} is a hook wrapper; Mayak calls every "
                                       f"implementation itself (see docs/plugins.md), write a plain @hookimpl")

    def _version(self, name: str, module: ModuleType) -> str:
        dist = self._distribution(name)
        if dist:
            try:
                return version(dist)
            except PackageNotFoundError:
                pass
        return str(getattr(module, "__version__", "0"))

    def _distribution(self, name: str) -> str | None:
        ep = self.available.get(name)
        if ep is not None and ep.dist is not None:
            return ep.dist.name
        return None

    def _settings(self, name: str, module: ModuleType, table: dict[str, Any]) -> Any:
        values = {k: v for k, v in table.items() if k not in ("enabled", "module")}
        settings_class = getattr(module, "Settings", None)
        resolved: dict[str, Any] = {}
        secret_names = set()
        if settings_class is not None and dataclasses.is_dataclass(settings_class):
            secret_names = {f.name for f in dataclasses.fields(settings_class) if f.metadata.get("secret")}
        for key, value in values.items():
            if isinstance(value, dict) and set(value) == {"env"}:
                env_name = str(value["env"])
                env_value = self.environ.get(env_name)
                if env_value is None or env_value == "":
                    raise StartupError(
                        f"plugin {name!r}: setting {key!r} needs the environment variable {env_name}, "
                        f"which is not set; export {env_name} or change [plugins.{name}] {key}"
                    )
                resolved[key] = env_value
            elif key in secret_names:
                raise StartupError(
                    f"plugin {name!r}: setting {key!r} is a secret; write {key} = {{ env = \"NAME\" }} in "
                    f"plugins.toml and put the value in that environment variable"
                )
            else:
                resolved[key] = value
        if settings_class is None:
            if callable(getattr(module, "plugin_settings_form", None)):
                return dict(resolved)  # a settings form without a dataclass: its deploy-time values as they are
            if resolved:
                raise StartupError(
                    f"plugin {name!r} takes no settings; remove {', '.join(sorted(resolved))} from [plugins.{name}]"
                )
            return None
        try:
            return settings_class(**resolved)
        except (TypeError, ValueError) as exc:
            raise StartupError(f"plugin {name!r}: bad settings in [plugins.{name}]: {exc}") from exc

    # -- queries ----------------------------------------------------------------------------------------

    def info(self, name: str) -> PluginInfo | None:
        return next((p for p in self.enabled if p.name == name), None)

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        if plugin is None:
            return []
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    def call(self, hook_name: str, policy: Policy, *, only: str | None = None, **kwargs: Any) -> list[HookResult]:
        """The one way the core calls a hook; ``policy`` says what a raising implementation does.

        Order (the only one): pluggy's call order — ``tryfirst`` implementations first, ``trylast`` ones last, and
        within each group the plugin registered later first (``plugins.toml`` order reversed, the core's own
        implementations last, which is why core defaults are overridable). Each implementation gets only the
        keyword arguments it declares. ``None`` answers are left out. ``only`` asks one plugin (its settings form,
        its health check); a hook nobody declares (an optional hook of a plugin not installed) has no answers.

        * ``STRICT``: the first failure stops the call with a :class:`StartupError` naming the plugin (start-up
          ``register_*`` hooks: a broken plugin must not half-start).
        * ``ISOLATED``: a failure is logged with the plugin's name and returned as a result with ``error`` set;
          the other implementations still run (UI hooks, health checks: one broken plugin never breaks a page).
        * ``FIRST``: stops at the first answer that is not ``None`` (``firstresult`` hooks: "who handles
          this?"); a failure propagates to the caller unchanged.
        """
        caller = getattr(self.pm.hook, hook_name, None)
        results: list[HookResult] = []
        for impl in reversed(caller.get_hookimpls() if caller is not None else []):
            if only is not None and impl.plugin_name != only:
                continue
            args = {arg: kwargs[arg] for arg in impl.argnames}
            if policy is Policy.FIRST:
                value = impl.function(**args)
                if value is not None:
                    return [HookResult(impl.plugin_name, value)]
                continue
            try:
                value = impl.function(**args)
            except Exception as exc:
                if policy is Policy.STRICT:
                    raise StartupError(
                        f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc
                log.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)
                results.append(HookResult(impl.plugin_name, None, exc))
                continue
            if value is not None:
                results.append(HookResult(impl.plugin_name, value))
        return results

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """``(plugin, answer)`` of every implementation that answered, failures logged and skipped (ISOLATED)."""
        return [(r.plugin, r.value) for r in self.call(hook_name, Policy.ISOLATED, **kwargs) if r.error is None]

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """The items of the lists that ``register_*``-style hooks return, flattened (STRICT)."""
        return [item for r in self.call(hook_name, Policy.STRICT, **kwargs) for item in r.value]
