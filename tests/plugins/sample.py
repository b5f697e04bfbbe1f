"""A test plugin: jobs whose effects are audit lines, and an event handler. Loaded by module path."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mayak import SYSTEM, Event, EventHandler, JobSpec, ScheduleSpec, db, hookimpl, record_audit


@dataclass(frozen=True)
class Settings:
    greeting: str = "hello"


def mark(ctx, key: str) -> dict[str, str]:
    record_audit(SYSTEM, "sample.mark", "sample", key, {"attempt": ctx.attempt})
    return {"key": key}


def slow_mark(ctx, key: str, seconds: float) -> None:
    for step in range(int(seconds * 10)):
        ctx.progress(step + 1, int(seconds * 10), "working")
        time.sleep(0.1)
    record_audit(SYSTEM, "sample.mark", "sample", key, {"attempt": ctx.attempt})


def fail(ctx, key: str) -> None:
    raise RuntimeError(f"sample failure {key}")


def flaky(ctx, key: str) -> None:
    if ctx.attempt < 2:
        raise RuntimeError("first attempt fails")
    record_audit(SYSTEM, "sample.mark", "sample", key, {"attempt": ctx.attempt})


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [
        JobSpec("sample.mark", mark),
        JobSpec("sample.slow_mark", slow_mark, timeout=60),
        JobSpec("sample.fail", fail, max_attempts=2),
        JobSpec("sample.flaky", flaky, max_attempts=3),
    ]


@hookimpl
def register_schedules() -> list[ScheduleSpec]:
    return [
        ScheduleSpec("sample.every_minute", "sample.mark", every=60, kwargs={"key": "scheduled"}),
        ScheduleSpec("sample.every_second", "sample.mark", every=1, kwargs={"key": "tick"}),
    ]


@dataclass(frozen=True, kw_only=True)
class SamplePinged(Event):
    """A plugin's own event (tests/test_event_catalogue.py)."""

    name = "sample_pinged"
    subject_type = "sample"
    description = "The sample plugin was pinged."
    words: tuple[str, ...] = ()


@hookimpl
def register_events() -> list[type[Event]]:
    return [SamplePinged]


def saw_user(event: Event) -> None:
    record_audit(SYSTEM, "sample.saw_user", "user", event.subject_id, {"event": event.id})
    db.session.flush()


@hookimpl
def register_event_handlers() -> list[EventHandler]:
    return [EventHandler("sample.saw_user", ("user_created",), saw_user)]
