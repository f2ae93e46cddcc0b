#!/usr/bin/env python3
"""Runs every saved query on Apache Spark over the same Parquet lake and compares the results with
what `sspr query` returns, to prove the saved queries are portable (queries/README.md).

Usage: python3 benches/peer/spark_queries.py --lake LAKE [--sspr target/debug/sspr] [--query NAME]
       [--param QUERY:NAME=VALUE]
Needs `pip install pyspark==3.5.3` and a Java 17 runtime. Placeholders are bound with each
query's default parameter values (`$to` of top_errors_this_week with --to). The functions the
project registers in DataFusion, `local_date(ts, tz)`, `local_hour(ts, tz)`, `local_weekday(ts, tz)`
(ISO: 1 Monday … 7 Sunday) and `epoch_seconds(ts)`, are registered here as Spark UDFs with the same
meaning.
"""
import argparse
import atexit
import datetime as dt
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zoneinfo

import saved_sql
from saved_sql import bind, saved_queries

ap = argparse.ArgumentParser()
ap.add_argument("--lake", required=True)
ap.add_argument("--sspr", default="target/debug/sspr")
ap.add_argument("--query", action="append")
ap.add_argument("--to", default="2026-11-15T00:00:00Z", help="value of a `to` parameter whose default is now")
ap.add_argument("--param", action="append", default=[], metavar="QUERY:NAME=VALUE",
                help="a parameter of one query (one without a default needs it), for Spark and sspr alike")
a = ap.parse_args()
repo = saved_sql.REPO

from pyspark.sql import SparkSession  # noqa: E402

from pyspark.sql.types import DateType, DoubleType, IntegerType  # noqa: E402

# Spark makes a `spark-warehouse/` folder in the working directory unless told where; nothing is
# written to it here, so it goes to a temporary folder that is removed on exit.
warehouse = tempfile.mkdtemp(prefix="sspr-spark-warehouse-")
atexit.register(shutil.rmtree, warehouse, True)
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.sql.warehouse.dir", warehouse)
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

for table in sorted(os.listdir(a.lake)):
    path = os.path.join(a.lake, table)
    if table.startswith("_") or not os.path.isdir(path):
        continue
    spark.read.parquet(path).createOrReplaceTempView(table)
for csv in glob.glob(os.path.join(repo, "queries/reference/*.csv")):
    name = os.path.splitext(os.path.basename(csv))[0]
    df = spark.read.option("header", True).csv(csv)
    for c in df.columns:
        if c.endswith("_order"):
            df = df.withColumn(c, df[c].cast("int"))
    df.createOrReplaceTempView(name)


def local_date(ts, tz):
    if ts is None:
        return None
    return ts.replace(tzinfo=dt.timezone.utc).astimezone(zoneinfo.ZoneInfo(tz)).date()


def local_hour(ts, tz):
    if ts is None:
        return None
    return ts.replace(tzinfo=dt.timezone.utc).astimezone(zoneinfo.ZoneInfo(tz)).hour


def local_weekday(ts, tz):
    if ts is None:
        return None
    return ts.replace(tzinfo=dt.timezone.utc).astimezone(zoneinfo.ZoneInfo(tz)).isoweekday()


def epoch_seconds(ts):
    return None if ts is None else ts.replace(tzinfo=dt.timezone.utc).timestamp()


spark.udf.register("local_date", local_date, DateType())
spark.udf.register("local_hour", local_hour, IntegerType())
spark.udf.register("local_weekday", local_weekday, IntegerType())
spark.udf.register("epoch_seconds", epoch_seconds, DoubleType())
for view in glob.glob(os.path.join(repo, "queries/views/*.sql")):
    text = open(view).read().replace("CREATE VIEW", "CREATE OR REPLACE TEMP VIEW")
    spark.sql("\n".join(l for l in text.splitlines() if not l.startswith("--")))


def norm(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()[:10] if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else v.isoformat()
    return v


def same_instant(v):
    """sspr's JSON value as Spark's row prints it: an instant without its `Z`, with six fraction
    digits when it has any (`…46.728Z` is Python's `…46.728000`)."""
    if v is None:
        return "None"
    text = str(v)
    if text.endswith("Z") and "T" in text:
        try:
            return dt.datetime.fromisoformat(text[:-1]).isoformat()
        except ValueError:
            pass
    return text


failures = 0
given = {}
for p in a.param:
    query, rest = p.split(":", 1)
    key, value = rest.split("=", 1)
    given.setdefault(query, {})[key] = value

for name, sql in saved_queries(a.query):
    params = saved_sql.params(sql)
    try:
        body = bind(sql, lambda t: f"TIMESTAMP '{t}'", a.to, given.get(name))
    except KeyError as e:
        failures += 1
        print(f"FAIL {name}: {e}")
        continue
    try:
        rows = spark.sql(body).collect()
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL {name}: Spark rejects it: {' '.join(str(e).split())[:400]}")
        continue
    args = [a.sspr, "--lake", a.lake, "query", name, "--format", "json"]
    if "to" in params and params["to"][1] == "now":
        args += ["--param", f"to={a.to}"]
    for key, value in given.get(name, {}).items():
        args += ["--param", f"{key}={value}"]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        failures += 1
        print(f"FAIL {name}: sspr: {out.stderr.strip()[:300]}")
        continue
    ours = json.loads(out.stdout)
    first = rows[0].__fields__[0] if rows else None
    spark_first = sorted(str(norm(r[0])) for r in rows)
    ours_first = sorted(same_instant(r.get(first)) for r in ours) if first else []
    same = len(rows) == len(ours) and spark_first == ours_first
    if not same:
        failures += 1
    print(f"{'ok  ' if same else 'DIFF'} {name}: Spark {len(rows)} rows, sspr {len(ours)} rows")

# The gold tables scale out too: each derived table's SQL (queries/derived/) over the raw tables,
# for every day, against what `sspr build` wrote into the lake, row for row and column for column.
if not a.query:
    for path in sorted(glob.glob(os.path.join(repo, "queries/derived/*.sql"))):
        name = os.path.splitext(os.path.basename(path))[0]
        body = "\n".join(l for l in open(path).read().splitlines() if not l.lstrip().startswith("--"))
        body = body.replace("$from", "DATE '1970-01-01'").replace("$to", "DATE '9999-12-31'")
        try:
            theirs = spark.sql(body)
            built = spark.table(name).select(*theirs.columns)
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"derived FAIL {name}: {' '.join(str(e).split())[:400]}")
            continue
        key = lambda r: tuple(str(norm(v)) for v in r)  # noqa: E731
        spark_rows = sorted(map(key, theirs.collect()))
        sspr_rows = sorted(map(key, built.collect()))
        same = spark_rows == sspr_rows and len(theirs.columns) == len(spark.table(name).columns)
        failures += 0 if same else 1
        print(f"derived {'ok  ' if same else 'DIFF'} {name}: Spark {len(spark_rows)} rows, sspr build {len(sspr_rows)} rows")
spark.stop()
sys.exit(1 if failures else 0)
