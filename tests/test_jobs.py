"""Jobs in the embedded mode (a worker thread), the scheduler and the event outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import jobs
from core.db import db, unit_of_work
from core.jobs import scheduler
from core.jobs.dispatch import dispatch_pending
from core.models import AuditEntry, EventDelivery, Notification, OutboxEvent, ScheduleState
from core.plugins.events import Event, Origin, UserCreated
from core.plugins.types import ScheduleSpec
from core.services.platform import events
from core.testing.fixtures import create_user, wait_for_jobs
from tests.jobs_support import SAMPLE, job, marks, wait_until


@pytest.fixture
def sample_app(app, make_app):
    return make_app(extra_plugins=SAMPLE)


def _enqueue(app, name, **kwargs):
    with app.app_context(), unit_of_work():
        record = jobs.enqueue(name, **kwargs)
        db.session.commit()
        return record.id


def test_job_runs_after_commit_with_result(sample_app):
    record_id = _enqueue(sample_app, "sample.mark", key="a")
    wait_for_jobs(sample_app)
    done = job(sample_app, record_id)
    assert done.status == "finished" and done.result == {"key": "a"} and done.attempts == 1
    assert marks(sample_app, "a") == 1


def test_rolled_back_job_never_runs(sample_app):
    with sample_app.app_context(), unit_of_work():
        jobs.enqueue("sample.mark", key="never")
        db.session.rollback()
    wait_for_jobs(sample_app)
    assert marks(sample_app, "never") == 0


@pytest.mark.parametrize("savepoint_ends", ["released", "rolled back"])
def test_a_savepoint_after_the_enqueue_neither_hands_the_job_over_early_nor_drops_it(sample_app, savepoint_ends):
    """SQLAlchemy signals a SAVEPOINT's release and rollback as commits and rollbacks too: a job queued before one
    must go to the worker at the real commit (handed over at the release, PostgreSQL's worker could not see its
    row yet and left it to the five-minute sweep) and must survive the savepoint's rollback."""
    from core.db import savepoint

    with sample_app.app_context(), unit_of_work():
        record = jobs.enqueue("sample.mark", key=f"sp-{savepoint_ends}")
        db.session.add(AuditEntry(action="test.before_savepoint", target_type="test"))
        db.session.flush()
        try:
            with savepoint():
                db.session.add(AuditEntry(action="test.inside", target_type="test"))
                db.session.flush()
                if savepoint_ends == "rolled back":
                    raise LookupError
        except LookupError:
            pass
        record_id = record.id
    wait_for_jobs(sample_app)
    done = job(sample_app, record_id)
    assert (done.status, marks(sample_app, f"sp-{savepoint_ends}")) == ("finished", 1)


def test_unique_key_gives_one_job(sample_app):
    first = _enqueue(sample_app, "sample.mark", key="u", unique_key="once")
    second = _enqueue(sample_app, "sample.mark", key="u", unique_key="once")
    wait_for_jobs(sample_app)
    assert first == second and marks(sample_app, "u") == 1


def test_unknown_job_name_is_refused(sample_app):
    from core.errors import ProviderNotFound

    with sample_app.app_context(), unit_of_work(), pytest.raises(ProviderNotFound):
        jobs.enqueue("sample.nope")


def test_failing_job_is_retried_then_fails_and_admins_hear(sample_app):
    create_user(sample_app, "boss@example.com", is_admin=True)
    record_id = _enqueue(sample_app, "sample.fail", key="f")
    wait_for_jobs(sample_app)
    first = job(sample_app, record_id)
    assert (first.status, first.attempts) == ("queued", 1)  # waiting for the sweep to retry it
    with sample_app.app_context(), unit_of_work():
        assert scheduler.sweep()["resubmitted"] == 1
    wait_for_jobs(sample_app)
    failed = job(sample_app, record_id)
    assert failed.status == "failed" and failed.attempts == 2 and "sample failure f" in failed.error
    wait_for_jobs(sample_app)
    with sample_app.app_context(), unit_of_work():
        note = db.session.scalar(select(Notification).where(Notification.source == "ops"))
        assert note is not None and note.params["name"] == "sample.fail" and note.level == "danger"


def test_flaky_job_succeeds_on_second_attempt(sample_app):
    record_id = _enqueue(sample_app, "sample.flaky", key="fl")
    wait_for_jobs(sample_app)
    with sample_app.app_context(), unit_of_work():
        scheduler.sweep()
    wait_for_jobs(sample_app)
    assert job(sample_app, record_id).status == "finished"
    assert marks(sample_app, "fl") == 1


def test_progress_partial_polls_until_done(sample_app):
    owner = create_user(sample_app, "runner@example.com")
    client = sample_app.test_client()
    from core.testing.fixtures import sign_in

    sign_in(client, owner.email)
    with sample_app.app_context(), unit_of_work():
        record = jobs.enqueue("sample.slow_mark", key="p", seconds=1.0, created_by_id=owner.id)
        db.session.commit()
        record_id = record.id
    wait_until(lambda: job(sample_app, record_id).progress_done > 0, timeout=10)
    running = client.get(f"/jobs/{record_id}/progress", headers={"HX-Request": "true"})
    assert running.status_code == 200 and b"progress-bar" in running.data
    wait_for_jobs(sample_app)
    done = client.get(f"/jobs/{record_id}/progress", headers={"HX-Request": "true"})
    assert done.status_code == 286


def test_scheduler_fires_each_slot_once(sample_app):
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with sample_app.app_context(), unit_of_work():
        assert scheduler.tick(t0) == []  # first sight: schedules its first slot
        state = db.session.get(ScheduleState, "sample.every_minute")
        assert state.next_run_at == t0 + timedelta(seconds=60)
        due = t0 + timedelta(seconds=61)
        assert "sample.every_minute" in scheduler.tick(due)
        assert "sample.every_minute" not in scheduler.tick(due)  # a second scheduler at the same moment
        db.session.commit()
    wait_for_jobs(sample_app)
    assert marks(sample_app, "scheduled") == 1


def test_two_schedulers_racing_fire_once(sample_app):
    """Two scheduler processes that both read the same due slot: the conditional update lets one win."""
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with sample_app.app_context(), unit_of_work():
        scheduler.tick(t0)
        db.session.commit()
    other = sample_app.app_context()
    with sample_app.app_context(), unit_of_work():
        mine = scheduler.tick(t0 + timedelta(seconds=61))
    with other:
        theirs = scheduler.tick(t0 + timedelta(seconds=61))
    assert sorted([*mine, *theirs]).count("sample.every_minute") == 1


def test_cron_schedule():
    spec = ScheduleSpec("x", "y", cron="17 3 * * *")
    after = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
    assert scheduler.next_run(spec, after) == datetime(2026, 5, 2, 3, 17, tzinfo=UTC)


def test_outbox_delivers_once_per_handler(sample_app):
    with sample_app.app_context(), unit_of_work():
        events.emit(UserCreated(subject_id=99, origin=Origin("system"), email="x@example.com"))
        db.session.commit()
    wait_for_jobs(sample_app)
    with sample_app.app_context(), unit_of_work():
        dispatch_pending()  # a second dispatcher finds nothing left to do
        event = db.session.scalar(select(OutboxEvent))
        assert event.dispatched_at is not None
        handlers = set(db.session.scalars(select(EventDelivery.handler)))
        assert handlers == {"ops.user_created", "sample.saw_user", "webhooks.forward"}
        seen = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "sample.saw_user"))
        assert seen == 1


def test_rolled_back_event_is_never_delivered(sample_app):
    with sample_app.app_context(), unit_of_work():
        events.emit(UserCreated(subject_id=1, origin=Origin("system"), email="y@example.com"))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_unknown_event_is_refused(app):
    @dataclass(frozen=True, kw_only=True)
    class Teleported(Event):
        name = "contact_teleported"
        subject_type = "contact"

    with app.app_context(), unit_of_work(), pytest.raises(ValueError, match="unknown event"):
        events.emit(Teleported(subject_id=1, origin=Origin("system")))
    with app.app_context(), unit_of_work(), pytest.raises(TypeError, match="Event instance"):
        events.emit("contact_created")  # type: ignore[arg-type]


def test_failing_handler_leaves_event_pending_and_others_delivered(app, make_app):
    from tests.plugins import failing_handler

    broken_app = make_app(extra_plugins=[("failing", failing_handler)])
    with broken_app.app_context(), unit_of_work():
        events.emit(UserCreated(subject_id=5, origin=Origin("system"), email="z@example.com"))
        db.session.commit()
    wait_for_jobs(broken_app)
    with broken_app.app_context(), unit_of_work():
        event = db.session.scalar(select(OutboxEvent))
        assert event.dispatched_at is None and event.attempts == 1 and "handler down" in event.last_error
        assert set(db.session.scalars(select(EventDelivery.handler))) == {"ops.user_created", "webhooks.forward"}
        dispatch_pending()  # the retry delivers to nobody twice
        assert db.session.scalar(select(func.count()).select_from(EventDelivery)) == 2


def test_two_running_schedulers_fire_on_time_and_never_twice(sample_app):
    """QUALITY 19 with the real loop: two scheduler threads for three seconds, one job per one-second slot."""
    import time

    from core.models import JobRecord

    stops = [scheduler.start_thread(sample_app), scheduler.start_thread(sample_app)]
    time.sleep(3.5)
    for stop in stops:
        stop.set()
    time.sleep(1.2)
    wait_for_jobs(sample_app)
    with sample_app.app_context(), unit_of_work():
        slots = db.session.scalars(select(JobRecord.unique_key).where(
            JobRecord.unique_key.like("schedule:sample.every_second:%"))).all()
        states = db.session.get(ScheduleState, "sample.every_second")
        assert 2 <= len(slots) <= 4 and len(set(slots)) == len(slots)
        assert states.last_run_at is not None
    assert marks(sample_app, "tick") == len(slots)


def test_every_in_process_backend_is_waited_for(app):
    """The ``app`` fixture waits for the jobs of every app of the process, one a test built with ``create_app``
    itself included, before it empties the tables (a demo-data job running under the emptying deadlocked
    PostgreSQL's TRUNCATE)."""
    import threading

    from core.jobs.backends import InProcessBackend

    other = InProcessBackend(app)  # as another app's backend: the fixture never saw it
    other.queue.put(("pending", None))
    assert not InProcessBackend.wait_all_idle(timeout=0.2)
    threading.Thread(target=lambda: (other.queue.get(), other.queue.task_done()), daemon=True).start()
    assert InProcessBackend.wait_all_idle(timeout=5)
