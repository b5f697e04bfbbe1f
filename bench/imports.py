"""The import benchmark (issue 5): 10k and 100k generated rows as CSV (Windows-1251) and XLSX, a fifth of them
repeating an earlier person, phones typed six ways — imported into an empty database, SQLite and PostgreSQL.

Each measurement runs in its own process, so its peak memory (``ru_maxrss``) is its own. Next to each XLSX import
stands the floor: openpyxl's bare read-only iteration over the same file on the same machine.

    .venv/bin/python bench/imports.py                   # writes bench/imports.jsonl and the table in RESULTS.md
    SIZES="10000" REPEAT=1 .venv/bin/python bench/imports.py     # a quicker run

Each figure is the median of REPEAT runs (3), each on an empty database, with the range of rows/s.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FILES = Path(os.environ.get("IMPORT_FILES", "/tmp/mayak-import"))
PG_ADMIN = os.environ.get("PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START, END = "<!-- imports:start -->", "<!-- imports:end -->"
REPEAT = int(os.environ.get("REPEAT", "3"))


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def bare_read(path: str) -> dict[str, float]:
    """The floor: openpyxl read-only, values only, every row touched."""
    from openpyxl import load_workbook

    started = time.perf_counter()
    book = load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_mb": _peak_mb()}


def one_import(path: str, database_url: str) -> dict[str, float]:
    """Upload, map (suggested) and run the import in this process, as ``mayak import contacts`` does."""
    import tempfile

    os.environ["MAYAK_DATABASE_URL"] = database_url
    os.environ["MAYAK_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="mayak-import-bench-")
    os.environ.pop("REDIS_URL", None)
    from core import create_app, migrate
    from core.db import db
    from core.models import User
    from core.services.platform.context import Actor
    from core.services.transfer import imports
    from core.services.users import accounts

    app = create_app()
    with app.app_context():
        migrate.upgrade()
        user = User(email="bench@example.com", password_hash=accounts.hash_password(os.urandom(16).hex()),
                    is_admin=True, full_name="Bench")
        db.session.add(user)
        db.session.commit()
        accounts.ensure_default_roles([])
        actor = Actor(db.session.get(User, user.id), via="bench")
        started = time.perf_counter()
        with open(path, "rb") as fh:  # the wizard's first step: keep the file, find the header, suggest fields
            batch = imports.upload(actor, fh, Path(path).name)
        imports.configure(actor, batch, {})
        inspected = time.perf_counter()
        batch = imports.run_now(actor, batch, dry_run=False)  # the import itself (the job)
        seconds = time.perf_counter() - inspected
        counts = batch.counts()
    return {**counts, "upload_seconds": inspected - started, "seconds": seconds,
            "rows_per_s": counts["rows"] / seconds, "peak_mb": _peak_mb()}


def reader_peak(path: str) -> dict[str, float]:
    """The peak memory of the second process that reads big files (the same reading code, alone)."""
    from datetime import date

    from core.services.transfer import import_mapping
    from core.services.transfer.import_files import open_table
    from core.services.transfer.import_reading import ReadPlan, _chunks

    fmt, source = open_table(Path(path), Path(path).name)
    with source:
        head = [cells for _n, cells in zip(range(3), source.rows(None), strict=False)]
    mapping = [s.field for s in import_mapping.suggest(head[2])]
    plan = ReadPlan(open=fmt.open, path=Path(path), sheet=None, start_after=3, mapping=mapping, region="RU",
                    today=date.today(), custom=[], chunk=2000)
    rows = sum(len(chunk) for chunk in _chunks(plan))
    return {"rows": rows, "peak_mb": _peak_mb()}


def _child(*args: str) -> dict[str, float]:
    output = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True,
                            cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def _fresh_pg(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def _fresh(database: str, size: int, fmt: str) -> str:
    """An empty database for one run."""
    if database == "PostgreSQL":
        return _fresh_pg(f"mayak_import_bench_{size}_{fmt}")
    db_file = Path(f"/tmp/mayak-import-bench-{size}-{fmt}.db")
    for leftover in db_file.parent.glob(db_file.name + "*"):
        leftover.unlink()
    return f"sqlite:///{db_file}"


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time, with the fastest and slowest rows/s of all runs (this machine's timing
    varies by a third from one minute to the next)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[len(ordered) // 2], "runs": len(runs), "rows_per_s_min": ordered[-1]["rows_per_s"],
            "rows_per_s_max": ordered[0]["rows_per_s"]}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.import_files import write

    results = []
    for size in [int(s) for s in os.environ.get("SIZES", "10000 100000").split()]:
        csv_path = FILES / f"people-{size}.csv"
        xlsx_path = FILES / f"people-{size}.xlsx"
        if not (csv_path.exists() and xlsx_path.exists()):
            write(size, FILES)
        floor = _median([_child("bare", str(xlsx_path)) for _ in range(REPEAT)])
        results.append({"size": size, "format": "xlsx", "database": "openpyxl bare read", **floor})
        for fmt, path in (("csv", csv_path), ("xlsx", xlsx_path)):
            for database in ("SQLite", "PostgreSQL"):
                figures = _median([_child("import", str(path), _fresh(database, size, fmt)) for _ in range(REPEAT)])
                if size >= 20_000 or fmt == "xlsx":  # read in a second process: its memory counts too
                    figures["reader_peak_mb"] = _child("reader", str(path))["peak_mb"]
                row = {"size": size, "format": fmt, "database": database, **figures}
                if fmt == "xlsx":
                    row["share_of_floor"] = figures["rows_per_s"] / floor["rows_per_s"]
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    (HERE / "imports.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results), encoding="utf-8")
    _write_table(results)


def _reader(result: dict[str, float]) -> str:
    return f" + {result['reader_peak_mb']:.0f}" if result.get("reader_peak_mb") else ""


def _write_table(results: list[dict[str, float]]) -> None:
    lines = ["| rows | file | database | upload s | import s | rows/s (median, range) | share of bare openpyxl | "
             "peak MB (importer + reader) | created | merged (in-file duplicates) |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        share = f"{r['share_of_floor']:.0%}" if "share_of_floor" in r else ("floor" if "created" not in r else "")
        upload = f"{r['upload_seconds']:.1f}" if "upload_seconds" in r else ""
        lines.append(f"| {int(r['size']):,} | {r['format'].upper()} | {r['database']} | {upload} | {r['seconds']:.1f} | "
                     f"{r['rows_per_s']:,.0f} ({r['rows_per_s_min']:,.0f}–{r['rows_per_s_max']:,.0f}) | {share} | {r['peak_mb']:.0f}{_reader(r)} | {int(r.get('created', 0)) or ''} | "
                     f"{int(r.get('merged', 0)) or ''} |")
    target = HERE / "RESULTS.md"
    text = target.read_text(encoding="utf-8")
    table = "\n".join(lines)
    if START in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = f"{head}{START}\n{table}\n{END}{tail}"
    else:
        text += f"\n## Import (issue 5)\n\n{START}\n{table}\n{END}\n"
    target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        print(json.dumps(bare_read(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "reader":
        sys.path.insert(0, str(ROOT))
        from core import create_app

        with create_app().app_context():  # only to find the format plugins; the reading itself needs no app
            print(json.dumps(reader_peak(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "import":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(one_import(sys.argv[2], sys.argv[3])))
    else:
        main()
