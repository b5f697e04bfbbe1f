"""A test plugin with a secret setting."""

from dataclasses import dataclass

from mayak import secret_field


@dataclass(frozen=True)
class Settings:
    api_key: str = secret_field()
    region: str = "RU"
