"""The import benchmark (issue 5): 10k and 100k generated rows as CSV (Windows-1251) and XLSX, a fifth of them
repeating an earlier person, phones typed six ways — imported into an empty database, SQLite and PostgreSQL.

Each measurement runs in its own process, so its peak memory (``ru_maxrss``) is its own. Next to each XLSX import
stands the floor: openpyxl's bare read-only iteration over the same file on the same machine.

    .venv/bin/python bench/imports.py                   # writes bench/imports.jsonl and the table in RESULTS.md
    SIZES="10000" .venv/bin/python bench/imports.py     # a quicker run
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
    from core.services import accounts, imports
    from core.services.context import Actor

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
            "rows_per_s": counts["rows"] / seconds, "peak_mb": _peak_mb(),
            "reader_peak_mb": _peak_mb(resource.RUSAGE_CHILDREN)}  # the file reader process, when there was one


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


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.import_files import write

    results = []
    for size in [int(s) for s in os.environ.get("SIZES", "10000 100000").split()]:
        csv_path = FILES / f"people-{size}.csv"
        xlsx_path = FILES / f"people-{size}.xlsx"
        if not (csv_path.exists() and xlsx_path.exists()):
            write(size, FILES)
        floor = _child("bare", str(xlsx_path))
        results.append({"size": size, "format": "xlsx", "database": "openpyxl bare read", **floor})
        for fmt, path in (("csv", csv_path), ("xlsx", xlsx_path)):
            for database in ("SQLite", "PostgreSQL"):
                if database == "SQLite":
                    db_file = Path(f"/tmp/mayak-import-bench-{size}-{fmt}.db")
                    for leftover in db_file.parent.glob(db_file.name + "*"):
                        leftover.unlink()
                    url = f"sqlite:///{db_file}"
                else:
                    url = _fresh_pg(f"mayak_import_bench_{size}_{fmt}")
                figures = _child("import", str(path), url)
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
    lines = ["| rows | file | database | upload s | import s | rows/s | share of bare openpyxl | "
             "peak MB (importer + reader) | created | merged (in-file duplicates) |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        share = f"{r['share_of_floor']:.0%}" if "share_of_floor" in r else ("floor" if "created" not in r else "")
        upload = f"{r['upload_seconds']:.1f}" if "upload_seconds" in r else ""
        lines.append(f"| {int(r['size']):,} | {r['format'].upper()} | {r['database']} | {upload} | {r['seconds']:.1f} | "
                     f"{r['rows_per_s']:,.0f} | {share} | {r['peak_mb']:.0f}{_reader(r)} | {int(r.get('created', 0)) or ''} | "
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
    elif len(sys.argv) > 1 and sys.argv[1] == "import":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(one_import(sys.argv[2], sys.argv[3])))
    else:
        main()
