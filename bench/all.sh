#!/usr/bin/env bash
# Seed and measure every data set: 10k, 100k and 1M contacts on SQLite and on PostgreSQL.
#   bash bench/all.sh            (PG at 127.0.0.1:5432, trust auth, as on the dev machines)
# Seeding 1M takes a few minutes per database; the databases are kept for re-runs (delete them to re-seed).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN=${PG_ADMIN:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
REQUESTS=${REQUESTS:-200}
SIZES=${SIZES:-"10000 100000 1000000"}
rm -f bench/results.jsonl
for n in $SIZES; do
  sqlite="sqlite:////tmp/mayak-bench-$n.db"
  pg="${PG_ADMIN%/*}/mayak_bench_$n"
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mayak_bench_$n'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE mayak_bench_$n"
  .venv/bin/python bench/seed.py --db "$sqlite" --contacts "$n"
  .venv/bin/python bench/seed.py --db "$pg" --contacts "$n"
done
for n in $SIZES; do
  label=$(python3 -c "n=$n; print(f'{n//1000}k' if n < 1_000_000 else f'{n//1_000_000}M')")
  .venv/bin/python bench/run.py --db "sqlite:////tmp/mayak-bench-$n.db" --label "SQLite $label" --requests "$REQUESTS"
  .venv/bin/python bench/run.py --db "${PG_ADMIN%/*}/mayak_bench_$n" --label "PostgreSQL $label" --requests "$REQUESTS"
done
.venv/bin/python bench/report.py
