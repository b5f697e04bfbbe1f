"""A hand-over of a job record to the backend: the record and the id of the queue message that carries it."""

from __future__ import annotations

import uuid
from typing import NamedTuple


class Submission(NamedTuple):
    """One hand-over of a committed job record to the backend."""

    record_id: int
    timeout: int
    message_id: str


def new_message_id() -> str:
    return f"mayak-{uuid.uuid4().hex}"  # 38 characters: message_id holds 40
