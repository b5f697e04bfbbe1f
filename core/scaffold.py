"""``mayak plugins new NAME --kind telephony|sms|mail|import``: a new plugin package, ready to test and publish.

The package is written from the templates in ``core/scaffold_templates/`` (shipped with Mayak as package data):
``common/`` for every kind (pyproject.toml with the entry point, README, the migrations and translations folders,
the tests' conftest.py), then the kind's own folder (the plugin module and its tests, which run Mayak's conformance
kit for the kind). In file contents ``{{name}}``-style placeholders are replaced; in paths ``_package_`` becomes the
Python package's name. Templates end in ``.tmpl`` so that nothing imports or collects them where they lie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

TEMPLATES = Path(__file__).resolve().parent / "scaffold_templates"
KINDS = ("telephony", "sms", "mail", "import")
_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")


@dataclass(frozen=True)
class KindText:
    label: str
    readme: str
    po: dict[str, str]  # the plugin's messages and their Russian, for messages.po
    provider: bool = True  # settings: an API address and a secret API key


_PROVIDER_PO = {"API address": "Адрес API", "API key": "Ключ API"}
_SIGNED = ("they are signed with the API key (`X-Signature`: the hex HMAC-SHA256 of the body; `X-Event-Id` "
           "names the event, so a repeat changes nothing).")
TEXTS = {
    "sms": KindText("an SMS gateway", "Delivery statuses: point the gateway's status callback at "
                    f"`https://<your Mayak>/webhooks/{{{{name}}}}/status`; {_SIGNED}",
                    {**_PROVIDER_PO, "The SMS gateway refused the request.": "SMS-шлюз отклонил запрос."}),
    "telephony": KindText("a telephony", "Call events: point the PBX's notifications at "
                          f"`https://<your Mayak>/webhooks/{{{{name}}}}/calls`; {_SIGNED}",
                          {**_PROVIDER_PO, "The PBX refused the request.": "АТС отклонила запрос.",
                           "Phone call": "Телефонный звонок"}),
    "mail": KindText("a mail", "Mail is fetched from the service's API since the last cursor and sent through it.",
                     {**_PROVIDER_PO, "The mail service refused the request.": "Почтовый сервис отклонил запрос."}),
    "import": KindText("an import format", "Adds a file format to *Import*: JSON Lines (`.jsonl`), one object a "
                       "line; its keys become the columns.",
                       {"JSON Lines": "JSON Lines (построчный JSON)", "Line %(row)s is too long.":
                        "Строка %(row)s слишком длинная.", "Line %(row)s is not a JSON object.":
                        "Строка %(row)s — не объект JSON."}, provider=False),
}


def core_version() -> str:
    try:
        return version("mayak-crm")
    except PackageNotFoundError:
        return "0.1"


def _po(package: str, messages: dict[str, str]) -> str:
    quote = lambda text: text.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
    return "".join(f'#: {package}/plugin.py\nmsgid "{quote(k)}"\nmsgstr "{quote(v)}"\n\n' for k, v in messages.items())


def placeholders(name: str, kind: str) -> dict[str, str]:
    text = TEXTS[kind]
    env = f"{name.upper()}_API_KEY"
    values = {
        "name": name,
        "package": f"mayak_{name}",
        "dist": f"mayak-{name.replace('_', '-')}",
        "title": name.replace("_", " ").title(),
        "env_prefix": name.upper(),
        "kind": kind,
        "kind_label": text.label,
        "core_version": core_version(),
        "settings_table": f', "api_key": {{"env": "{env}"}}' if text.provider else "",
        "test_environ": f'{{"{env}": "test-secret"}}' if text.provider else "{}",
        "settings_toml": (f'\n    api_key = {{ env = "{env}" }}   # a secret: always from the environment\n\n'
                          f"Change its settings later in *Administration → Plugins → {name}* (\"Check connection\" "
                          "asks the provider).") if text.provider else "",
    }
    values["readme_kind"] = "\n" + _fill(text.readme, values) + "\n"
    values["po"] = _po(values["package"], text.po)
    return values


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def scaffold(name: str, kind: str, parent: Path) -> Path:
    """Write the package ``mayak-<name>/`` under ``parent``; returns its folder. Refuses a bad name, an unknown kind
    and an existing folder (nothing is overwritten)."""
    if not _NAME.fullmatch(name):
        raise click.BadParameter("use 2-40 lower-case letters, digits and '_', starting with a letter",
                                 param_hint="NAME")
    if kind not in KINDS:
        raise click.BadParameter(f"use one of {', '.join(KINDS)}", param_hint="--kind")
    values = placeholders(name, kind)
    target = parent / values["dist"]
    if target.exists():
        raise click.ClickException(f"{target} exists; choose another name or remove it")
    for layer in ("common", kind):
        root = TEMPLATES / layer
        for template in sorted(root.rglob("*.tmpl")):
            relative = template.relative_to(root).as_posix().removesuffix(".tmpl")
            path = target / relative.replace("_package_", values["package"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_fill(template.read_text(encoding="utf-8"), values), encoding="utf-8")
    _compile_translations(target / values["package"] / "translations")
    return target


def _compile_translations(folder: Path) -> None:
    """The .mo next to each .po, so the package works before its author first runs ``pybabel compile``."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in folder.rglob("*.po"):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog)


@click.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the plugin provides.")
@click.option("--directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to write the package folder.")
def new_command(name: str, kind: str, directory: Path) -> None:
    """Write a new plugin package mayak-NAME/ (entry point, settings form, webhook, migrations, translations,
    README and tests on Mayak's conformance kit)."""
    target = scaffold(name, kind, directory)
    click.echo(f"wrote {target}/")
    click.echo(f"next: cd {target} && pip install -e '.[test]' && python -m pytest")
