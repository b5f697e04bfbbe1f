"""Hook implementations of the Russian localisation plugin."""

from __future__ import annotations

from mayak import CountryRules, LocaleSpec, hookimpl


@hookimpl
def register_locales() -> list[LocaleSpec]:
    return [LocaleSpec("ru", "Русский")]


@hookimpl
def country_rules() -> CountryRules:
    return CountryRules(country="RU", phone_region="RU", currency="RUB", locale="ru", timezone="Europe/Moscow")
