"""Turn ``bench/results.jsonl`` into the table in ``bench/RESULTS.md`` (between the markers)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


def table() -> str:
    rows = [json.loads(line) for line in (HERE / "results.jsonl").read_text(encoding="utf-8").splitlines() if line]
    lines = ["| data set | scenario | median ms | p95 ms | floor median/p95 ms | target (3×floor+20) | within |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        target = 3 * r["floor_median_ms"] + 20
        ok = "yes" if r["median_ms"] <= target else "no"
        lines.append(f"| {r['label']} | {r['scenario']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{r['floor_median_ms']:.2f}/{r['floor_p95_ms']:.2f} | {target:.1f} | {ok} |")
    lines.append("")
    lines.append(f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                 "2 cores; one gunicorn worker with one thread per server, requests one at a time on loopback.")
    return "\n".join(lines)


def main() -> None:
    target = HERE / "RESULTS.md"
    text = target.read_text(encoding="utf-8")
    head, _old, tail = text.partition(START)[0], None, text.partition(END)[2]
    target.write_text(f"{head}{START}\n{table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
