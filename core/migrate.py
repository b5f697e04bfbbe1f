"""Schema migrations: core's revisions first, then each enabled plugin's, each with its own version table.

Alembic is driven through its command API rather than Flask-Migrate's single-directory commands, because every
plugin is a separate migration unit (``alembic_version_<plugin>``, tables prefixed ``<plugin>_``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from core.config import PROJECT_ROOT
from core.db import db
from core.models.base import Base
from core.plugins.facades import plugins

ENV_DIR = PROJECT_ROOT / "migrations"


@dataclass(frozen=True)
class MigrationUnit:
    name: str
    versions_dir: Path
    plugin_names: tuple[str, ...] = ()

    @property
    def version_table(self) -> str:
        return "alembic_version" if self.name == "core" else f"alembic_version_{self.name}"

    def owns_table(self, table: str) -> bool:
        if table.startswith("alembic_version"):
            return False
        if self.name == "core":
            return not any(table.startswith(f"{p}_") for p in self.plugin_names)
        return table.startswith(f"{self.name}_")


def installed_plugin_names() -> list[str]:
    """Every plugin installed as an entry point in the group ``mayak``."""
    from importlib.metadata import entry_points

    return [entry.name for entry in entry_points(group="mayak")]


def units() -> list[MigrationUnit]:
    manager = plugins()
    # core owns every table but those of plugins — the enabled ones and every one installed (a plugin's models join
    # the shared metadata as soon as any app in the process loads it, enabled here or not)
    names = tuple(dict.fromkeys([*(p.name for p in manager.enabled), *installed_plugin_names()]))
    found = [MigrationUnit("core", ENV_DIR / "versions", names)]
    for info in manager.enabled:
        versions = info.migrations_dir / "versions"
        if versions.is_dir():
            found.append(MigrationUnit(info.name, versions, names))
    return found


def alembic_config(unit: MigrationUnit) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ENV_DIR))
    cfg.set_main_option("version_locations", str(unit.versions_dir))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["unit"] = unit
    return cfg


def find_unit(name: str) -> MigrationUnit:
    for unit in units():
        if unit.name == name:
            return unit
    raise KeyError(f"no migration unit {name!r}: is the plugin enabled and does it have migrations/versions/?")


def upgrade(target: str = "heads") -> list[str]:
    """Apply core's migrations, then each enabled plugin's; returns the units upgraded."""
    done = []
    before = current_revisions()
    for unit in units():
        command.upgrade(alembic_config(unit), target)
        done.append(unit.name)
    if db.engine.dialect.name == "sqlite" and current_revisions() != before:
        # new tables and indexes have no statistics, and SQLite's planner then guesses (a contact card took 0.7 s
        # after an upgrade); PostgreSQL's autovacuum analyses by itself
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return done


def downgrade(unit_name: str, target: str) -> None:
    command.downgrade(alembic_config(find_unit(unit_name)), target)


def revision(unit_name: str, message: str, autogenerate: bool = True) -> None:
    unit = find_unit(unit_name)
    unit.versions_dir.mkdir(parents=True, exist_ok=True)
    command.revision(alembic_config(unit), message=message, autogenerate=autogenerate,
                     version_path=str(unit.versions_dir))


def pending_differences() -> list[object]:
    """What the models declare but the migrated database lacks (or the reverse); empty when they agree."""
    differences: list[object] = []
    with db.engine.connect() as conn:
        for unit in units():
            ctx = MigrationContext.configure(conn, opts={
                "include_object": lambda obj, name, type_, reflected, compare_to, unit=unit: (
                    unit.owns_table(name if type_ == "table" else getattr(getattr(obj, "table", None), "name", name))
                ),
                "compare_type": True,
            })
            differences.extend(compare_metadata(ctx, Base.metadata))
    return differences


def current_revisions() -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    with db.engine.connect() as conn:
        for unit in units():
            ctx = MigrationContext.configure(conn, opts={"version_table": unit.version_table})
            result[unit.name] = ctx.get_current_revision()
    return result
