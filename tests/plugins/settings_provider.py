"""A test SMS provider plugin whose "Check connection" reads its saved settings: one provider answers with the
gateway's balance, the other fails with the provider's own words."""

from __future__ import annotations

from wtforms import Form, StringField

from mayak import HealthStatus, MessagingProvider, ProviderError, ProviderSpec, SecretField, hookimpl


class GatewayForm(Form):
    login = StringField("Login")
    token = SecretField("Token")


class _Base(MessagingProvider):
    def __init__(self, settings: object) -> None:
        self.settings = settings

    def send(self, message: object) -> object:  # type: ignore[override]
        raise NotImplementedError


class Gateway(_Base):
    def check_connection(self) -> HealthStatus:
        if not self.settings.token:  # type: ignore[attr-defined]
            return HealthStatus(False, "no token")
        return HealthStatus(True, f"logged in as {self.settings.login}, balance 12.50")  # type: ignore[attr-defined]


class Broken(_Base):
    def check_connection(self) -> HealthStatus:
        raise ProviderError("The gateway refused the login.", "401 bad token")


@hookimpl
def plugin_settings_form() -> type[Form]:
    return GatewayForm


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind="messaging", key="test_gateway", label="Test gateway", factory=Gateway),
            ProviderSpec(kind="messaging", key="test_broken", label="Broken gateway", factory=Broken)]
