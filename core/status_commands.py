"""``mayak status``: the installation's health, as ``/healthz`` reports it, for an admin at a shell."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from core.db import own_transactions


def _mark(ok: bool) -> str:
    return "ok  " if ok else "FAIL"


@own_transactions
@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON (what /healthz answers)")
@with_appcontext
def status_command(as_json: bool) -> None:
    """The health of the whole installation: database, Redis, jobs, web processes, workers, schedulers, plugins.
    Exits with 1 when something is wrong."""
    from core.services.platform import health

    body = health.report()
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        click.echo(f"Mayak: {body['status']}")
        for key in ("database", "redis", "jobs"):
            click.echo(f"  {_mark(body[key]['ok'])} {key:<11} {body[key]['detail']}")
        for key in ("web", "workers", "schedulers", "listeners"):
            if key not in body:
                continue
            part = body[key]
            click.echo(f"  {_mark(part['ok'])} {key:<11} {part.get('detail', '')}")
            for process in part["alive"]:
                queues = f" [{', '.join(process['queues'])}]" if process["queues"] else ""
                click.echo(f"         alive  {process['id']}{queues}: {process['state']}, "
                           f"seen {process['seen_seconds_ago']:.0f} s ago")
            for process in part["lost"]:
                note = "replaced" if process["replaced"] else "NOT replaced"
                click.echo(f"         lost   {process['id']}: silent for {process['seen_seconds_ago']:.0f} s ({note})")
        for name, plugin in sorted(body["plugins"].items()):
            if not plugin["ok"]:
                click.echo(f"  FAIL plugin {name}: {plugin['detail']}")
    sys.exit(0 if body["status"] == "ok" else 1)


STATUS_COMMANDS = [status_command]
