"""Plugin discovery and loading: entry points in the ``mayak`` group, enabled and configured by ``plugins.toml``.

Start-up stops with one :class:`~core.errors.StartupError` line when a plugin is unknown, fails to import,
implements a hook wrongly, or references a secret environment variable that is not set.
"""

from __future__ import annotations

import dataclasses
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


def secret_field(**kwargs: Any) -> Any:
    """Declare a setting that must come from ``{ env = "NAME" }`` in ``plugins.toml``, never a literal value."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["secret"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


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

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook_name`` in pluggy's order, isolating failures.

        An implementation that raises is logged with its plugin's name and skipped, so one broken plugin never
        breaks a page. Returns ``(plugin_name, result)`` pairs, ``None`` results left out.
        """
        caller = getattr(self.pm.hook, hook_name)
        results: list[tuple[str, Any]] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                log.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)
                continue
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Flatten the lists that ``register_*``-style hooks return (strict: a raising plugin stops start-up)."""
        caller = getattr(self.pm.hook, hook_name)
        items: list[Any] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                raise StartupError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
            if result:
                items.extend(result)
        return items
