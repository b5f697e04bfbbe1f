"""Where a page's time goes: a page requested in-process as the benchmark user, profiled with pyinstrument.

    python bench/profile_page.py --db postgresql+psycopg://postgres@127.0.0.1:5432/mayak_bench_100000 /contacts/
    python bench/profile_page.py --db ... --requests 200 --html /tmp/list.html /tasks/

pyinstrument is not a dependency of Mayak: ``.venv/bin/pip install pyinstrument`` first. Without ``--html`` the
call tree is printed. ``--count`` prints the statements each request runs instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import csrf_token_of
from bench.seed import PASSWORD, app_for


def signed_in_client(app, email: str = "bench@example.com"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert answer.status_code == 302, f"sign-in failed: {answer.status_code}"
    return client


def count_statements(app, client, path: str, headers: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from core.db import db

    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", note)
    try:
        client.get(path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--db", required=True)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--htmx", action="store_true", help="request the page's list fragment")
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    parser.add_argument("--time-only", action="store_true", help="only the CPU time a request, without a profile")
    parser.add_argument("--count", action="store_true", help="print the SQL statements of one request")
    args = parser.parse_args()
    app = app_for(args.db, Path("/tmp/mayak-bench-profile"))
    client = signed_in_client(app)
    headers = {"HX-Request": "true", "HX-Target": "list-body"} if args.htmx else {}
    for _ in range(20):  # warm caches, compiled templates and the pool
        status = client.get(args.path, headers=headers).status_code
        if status != 200:
            raise SystemExit(f"{args.path} answered {status}")
    if args.count:
        for statement in count_statements(app, client, args.path, headers):
            print(statement)
        return
    cpu = time.process_time()
    for _ in range(args.requests):
        client.get(args.path, headers=headers)
    print(f"{args.path}: {(time.process_time() - cpu) / args.requests * 1000:.1f} ms of CPU a request in-process "
          "(this process's CPU: the app's, without the database's)")
    if args.time_only:
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for _ in range(args.requests):
            client.get(args.path, headers=headers)
    elapsed = (time.perf_counter() - started) / args.requests * 1000
    print(f"{args.path}: {elapsed:.1f} ms a request in-process (profiler on)")
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    else:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
