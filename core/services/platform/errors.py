"""Errors services raise for bad input; the message is translatable and names the field to fix."""

from __future__ import annotations

from typing import Any


class ValidationError(ValueError):
    def __init__(self, field: str, message: Any) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidInput(ValueError):
    """Several fields are wrong at once: ``errors`` maps each field (``phones.1``, ``custom.car``) to a
    translatable message saying what to fix."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
