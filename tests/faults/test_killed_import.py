"""QUALITY 16: an import killed halfway (its RQ worker, work horse and file reader SIGKILLed) is resumed by the
sweep and ends with exactly the file's rows and no duplicates."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from sqlalchemy import func, select

from bench.import_files import HEADER, rows
from core.db import db, unit_of_work
from core.jobs import scheduler
from core.models import Contact, ImportBatch, Phone, User
from core.services.platform.context import Actor
from core.services.transfer import imports
from core.testing import services
from core.testing.fixtures import create_user
from tests.jobs_support import rq_app, run_burst_worker, start_worker, wait_until, worker_env

pytestmark = pytest.mark.redis
ROWS = 30_000  # big enough for the second reader process and a few dozen chunks


def _descendants(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            for child in map(int, fh.read().split()):
                found += [child, *_descendants(child)]
    return found


def _batch(app, batch_id: int) -> ImportBatch:
    with app.app_context(), unit_of_work():
        batch = db.session.get(ImportBatch, batch_id)
        db.session.expunge(batch)
        return batch


def test_an_import_killed_halfway_ends_with_exactly_the_files_rows(app, make_app, tmp_path):
    url = services.redis_url()
    queue = f"mayak-import-kill-{uuid.uuid4().hex[:8]}"
    rq = rq_app(make_app, url, queue)
    env = {**worker_env(rq, tmp_path, url, queue), "MAYAK_INSTANCE_PATH": rq.instance_path}
    path = tmp_path / "clients.csv"
    with path.open("w", encoding="cp1251", newline="") as fh:
        fh.write(";".join(HEADER) + "\r\n")
        fh.writelines(";".join(str(v) for v in row) + "\r\n" for row in rows(ROWS))
    boss = create_user(rq, "importer@example.com", is_admin=True)
    with rq.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, boss.id), via="test")
        with path.open("rb") as fh:
            batch = imports.upload(actor, fh, path.name)
        imports.configure(actor, batch, {})
        imports.start(actor, batch, dry_run=False)
        batch_id = batch.id

    worker = start_worker(env)
    try:
        wait_until(lambda: _batch(rq, batch_id).position > 0, timeout=60)
    finally:
        for pid in [*_descendants(worker.pid), worker.pid]:  # worker, work horse and the file reader
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    stopped = _batch(rq, batch_id)
    assert stopped.status == "running" and 0 < stopped.rows < ROWS

    def swept() -> bool:
        with rq.app_context(), unit_of_work():
            return scheduler.sweep()["requeued"] == 1

    wait_until(swept, timeout=15, every=0.5)
    run_burst_worker(env, timeout=180)
    done = _batch(rq, batch_id)
    assert done.status == "finished" and done.rows == ROWS
    assert done.created + done.merged == ROWS and done.failed == 0
    with rq.app_context(), unit_of_work():
        live = Contact.deleted_at.is_(None)
        assert db.session.scalar(select(func.count()).select_from(Contact).where(live)) == done.created
        repeated = db.session.execute(select(Phone.e164).join(Contact).where(live).group_by(Phone.e164)
                                      .having(func.count(func.distinct(Phone.contact_id)) > 1)).all()
        assert repeated == []  # no person twice, however the import was cut
