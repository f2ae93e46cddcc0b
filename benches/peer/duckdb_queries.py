#!/usr/bin/env python3
"""The peer of `cargo bench --bench queries`: runs every saved query with DuckDB over the same
Parquet lake (raw and derived tables, reference CSVs, the step view) and prints the median time of
each, and the row count so the answers can be compared with `sspr query`.

Usage: python3 benches/peer/duckdb_queries.py --lake LAKE [--runs 5] [--query NAME]
`pip install duckdb`. Placeholders are bound with each query's defaults (`now` → --to). The
functions the project registers in DataFusion are DuckDB macros here: `local_date(ts, tz)`,
`local_hour(ts, tz)`, `local_weekday(ts, tz)` and `epoch_seconds(ts)`, and `array_join(list, sep)`
(Spark's and DataFusion's name for DuckDB's `array_to_string`). Each run opens a fresh
connection (like the Rust bench's fresh session).
"""
import argparse
import glob
import os
import statistics
import time

import duckdb
import saved_sql
from saved_sql import bind, saved_queries

ap = argparse.ArgumentParser()
ap.add_argument("--lake", required=True)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--query", action="append")
ap.add_argument("--to", default="2026-11-15T00:00:00Z")
a = ap.parse_args()
repo = saved_sql.REPO


def connect():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in sorted(os.listdir(a.lake)):
        path = os.path.join(a.lake, table)
        if table.startswith("_") or not os.path.isdir(path):
            continue
        # The partition column is inside every file too, so no hive partitioning is needed.
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}/*/*.parquet')")
    for csv in glob.glob(os.path.join(repo, "queries/reference/*.csv")):
        name = os.path.splitext(os.path.basename(csv))[0]
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{csv}', header = true, all_varchar = true)")
        for (col,) in con.execute(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{name}'"
        ).fetchall():
            if col.endswith("_order"):
                con.execute(f"ALTER TABLE {name} ALTER {col} TYPE INTEGER")
    con.execute("CREATE MACRO local_date(ts, tz) AS CAST(timezone(tz, ts) AS DATE)")
    con.execute("CREATE MACRO epoch_seconds(ts) AS epoch_us(ts) / 1e6")
    con.execute("CREATE MACRO local_hour(ts, tz) AS CAST(hour(timezone(tz, ts)) AS INTEGER)")
    con.execute("CREATE MACRO local_weekday(ts, tz) AS CAST(isodow(timezone(tz, ts)) AS INTEGER)")
    # Spark's and DataFusion's name for joining a list into text (DuckDB's is array_to_string).
    con.execute("CREATE MACRO array_join(l, sep) AS array_to_string(l, sep)")
    for view in glob.glob(os.path.join(repo, "queries/views/*.sql")):
        con.execute("\n".join(l for l in open(view).read().splitlines() if not l.startswith("--")))
    return con


for name, sql in saved_queries(a.query):
    if saved_sql.required(sql):
        print(f"{name}: skipped (a lookup: needs {', '.join(saved_sql.required(sql))})")
        continue
    body = bind(sql, lambda t: f"TIMESTAMPTZ '{t}+00'", a.to)
    times = []
    try:
        for _ in range(a.runs):
            con = connect()
            t = time.perf_counter()
            rows = con.sql(body).to_arrow_table()
            times.append(time.perf_counter() - t)
            con.close()
        print(f"{name}: median {statistics.median(times) * 1000:.2f} ms over {a.runs} runs, {rows.num_rows} rows")
    except Exception as e:  # noqa: BLE001
        print(f"{name}: DuckDB rejects it: {' '.join(str(e).split())[:300]}")
