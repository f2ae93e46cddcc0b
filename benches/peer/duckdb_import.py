#!/usr/bin/env python3
"""Peer for benches/import.rs: DuckDB turns the same Graph pages into Parquet.

Usage: python3 benches/peer/duckdb_import.py target/bench-data/<tenant>/graph/directoryAudits

Reads every page with read_json, unnests `value`, flattens the same fields our importer
flattens (ids, times, actor, target, additionalDetails kept as JSON) and writes one SNAPPY
Parquet file. Prints events/s over the best of 3 runs.
"""
import pathlib
import sys
import tempfile
import time

import duckdb

pages = pathlib.Path(sys.argv[1])
glob = str(pages / "page-*.json")
sql = f"""
COPY (
  SELECT e.id, CAST(e.activityDateTime AS TIMESTAMPTZ) AS activity_time,
         CAST(CAST(e.activityDateTime AS TIMESTAMPTZ) AS DATE) AS event_date,
         e.category, e.activityDisplayName AS activity, e.loggedByService AS logged_by_service,
         e.operationType AS operation_type, e.result, e.resultReason AS result_reason,
         e.correlationId AS correlation_id,
         e.initiatedBy.user.id AS actor_user_id, e.initiatedBy.user.userPrincipalName AS actor_upn,
         e.initiatedBy.user.ipAddress AS actor_ip,
         CAST(e.additionalDetails AS JSON) AS additional_details_json,
         CAST(e.targetResources AS JSON) AS target_resources_json
  FROM (SELECT unnest(value) AS e FROM read_json('{glob}', maximum_object_size=268435456))
  ORDER BY activity_time
) TO '{{out}}' (FORMAT parquet, COMPRESSION snappy)
"""
best = None
rows = None
for _ in range(3):
    with tempfile.TemporaryDirectory() as d:
        out = str(pathlib.Path(d) / "audit.parquet")
        con = duckdb.connect()
        t = time.perf_counter()
        con.execute(sql.replace("{out}", out))
        dt = time.perf_counter() - t
        rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]
        best = dt if best is None else min(best, dt)
size = sum(p.stat().st_size for p in pages.glob("page-*.json"))
print(f"duckdb {duckdb.__version__}: {rows} events, {size / 1e6:.0f} MB in {best:.2f} s = {rows / best:,.0f} events/s")
