#!/usr/bin/env python3
"""The saved-query comparison run query by query: ours (criterion, `cargo bench --bench queries`),
then DuckDB, then polars, back to back for each query, for several rounds.

This machine's speed drifts by 30-60 % within minutes, so three engines measured one after the
other over a quarter of an hour compare different machines. Here each query's three figures come
from the same minute, and rounds alternate the order; the ratio per query is the median over the
rounds of (ours / the faster peer in that round).

Usage: python3 benches/peer/paired.py --lake LAKE [--rounds 3] [--query NAME ...]
Needs the derived tables built (run `SSPR_BENCH_SESSION_RATE=1200 cargo bench --bench queries`
once; this script passes SSPR_BENCH_BUILD=0) and the two peer scripts' packages (duckdb, polars).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

import saved_sql

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def ours(name, env):
    """Criterion's median for one saved query, in ms."""
    out = subprocess.run(
        ["cargo", "bench", "--bench", "queries", "--", f"saved_query/{name}$"],
        capture_output=True, text=True, env=env, cwd=saved_sql.REPO,
    )
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"cargo bench for {name} failed: {(out.stderr or out.stdout)[-600:]}")
    return float(m.group(1)) * UNIT[m.group(2)]


def peer(script, name, lake, runs):
    """A peer script's median for one query, in ms, or None when the peer cannot run it."""
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, script), "--lake", lake, "--runs", str(runs), "--query", name],
        capture_output=True, text=True,
    )
    m = re.search(rf"^{name}: median ([\d.]+) ms", out.stdout, re.M)
    if not m and not re.search(rf"^{name}: ", out.stdout, re.M):
        # No word about the query at all: the script itself failed (a missing package), which
        # is not the peer being unable to run the query. Such a table would compare against
        # one peer while saying two were asked.
        sys.exit(f"{script} did not run: {(out.stderr or out.stdout).strip()[-600:]}")
    return float(m.group(1)) if m else None


def ms(v):
    """A median in ms: tenths below 100 ms, where a whole millisecond is a large share."""
    if v is None:
        return "(cannot run it)"
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5, help="runs per peer measurement")
    ap.add_argument("--query", action="append")
    a = ap.parse_args()
    env = dict(os.environ, SSPR_BENCH_BUILD="0")
    env.setdefault("SSPR_BENCH_SESSION_RATE", "1200")
    names = [n for n, _ in saved_sql.saved_queries(a.query)]
    print("| query | ours | DuckDB | polars | ours / faster |")
    print("|---|---:|---:|---:|---:|")
    met = total = 0
    for name in names:
        rows = []
        for r in range(a.rounds):
            steps = [
                ("ours", lambda: ours(name, env)),
                ("duckdb", lambda: peer("duckdb_queries.py", name, a.lake, a.runs)),
                ("polars", lambda: peer("polars_queries.py", name, a.lake, a.runs)),
            ]
            if r % 2:
                steps.reverse()
            got = {k: f() for k, f in steps}
            if got["duckdb"] is None and got["polars"] is None:
                break
            rows.append(got)
        if not rows:
            print(f"| {name} | | (no peer runs it) | | |")
            continue
        med = {}
        for k in ("ours", "duckdb", "polars"):
            got = [r[k] for r in rows if r[k] is not None]
            med[k] = statistics.median(got) if got else None
        ratio = statistics.median(
            r["ours"] / min(v for k, v in r.items() if k != "ours" and v is not None) for r in rows
        )
        total += 1
        met += ratio <= 1.2
        cells = " | ".join(ms(med[k]) for k in ("ours", "duckdb", "polars"))
        print(f"| {name} | {cells} | {ratio:.2f} |", flush=True)
    print(f"\n{met} of {total} within 1.2x of the faster peer (median ratio over {a.rounds} rounds)")


if __name__ == "__main__":
    main()
