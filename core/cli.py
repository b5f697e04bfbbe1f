"""The ``mayak`` command: a FlaskGroup over :func:`core.create_app` (commands in :mod:`core.commands`).

Start-up problems print one line (``mayak: <what is wrong and how to fix it>``) and exit with status 1.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, ScriptInfo

from core import create_app
from core.errors import StartupError
from core.scaffold import new_command


def _create_app():  # type: ignore[no-untyped-def]
    return create_app()


class MayakGroup(FlaskGroup):
    """FlaskGroup that prints start-up errors as one line instead of a traceback."""

    def _load_plugin_commands(self) -> None:
        # Flask-Migrate and other libraries register generic "flask" commands through entry points; Mayak's
        # own `db` group replaces them, so only Flask's defaults are kept.
        self._loaded_plugin_commands = True

    def main(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().main(*args, **kwargs)
        except StartupError as exc:
            click.echo(f"mayak: {exc}", err=True)
            sys.exit(1)

    def get_command(self, ctx, name):  # type: ignore[no-untyped-def]
        try:
            return super().get_command(ctx, name)
        except StartupError as exc:
            click.echo(f"mayak: {exc}", err=True)
            sys.exit(1)


cli = MayakGroup(create_app=_create_app, add_version_option=False, load_dotenv=False,
                 help="Mayak CRM: serve, migrate, manage users, run workers.")


class PluginsGroup(click.Group):
    """``mayak plugins``: ``new`` writes a plugin package and needs no app (an author's empty folder has no
    plugins.toml or database); the other subcommands (``list``...) are the app's own ``plugins`` group."""

    def _app_group(self, ctx: click.Context) -> click.Group:
        group = ctx.ensure_object(ScriptInfo).load_app().cli.commands["plugins"]
        assert isinstance(group, click.Group)
        return group

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            names = self._app_group(ctx).list_commands(ctx)
        except StartupError:
            names = []
        return sorted({*names, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        return self._app_group(ctx).get_command(ctx, name)


plugins_cli = PluginsGroup("plugins", help="Installed and enabled plugins; `new` writes a new plugin package.")
plugins_cli.add_command(new_command)
cli.add_command(plugins_cli)


def main() -> None:
    cli.main(prog_name="mayak")


if __name__ == "__main__":
    main()
