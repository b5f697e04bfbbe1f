"""Errors services raise for bad input; the message is translatable and names the field to fix."""

from __future__ import annotations

from typing import Any


class ValidationError(ValueError):
    def __init__(self, field: str, message: Any) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
