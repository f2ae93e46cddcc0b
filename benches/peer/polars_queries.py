#!/usr/bin/env python3
"""The polars peer of `cargo bench --bench queries`: every saved query over the same Parquet lake on
polars' lazy engine, with the median time of each, and (with --check) its answer compared with
`sspr query` value for value.

Usage: python3 benches/peer/polars_queries.py --lake LAKE [--runs 5] [--query NAME]
                                              [--check --sspr target/release/sspr]
`pip install polars` (the Python package is the same Rust engine as the `polars` crate, so the
project's build stays free of it; see the README's Benchmarks section).

Each query is a polars LazyFrame, collected once per run. A saved query whose SQL polars' own SQL
front end (`pl.SQLContext`, which turns SQL into the same LazyFrame plans) runs as written goes
through it; the others are written here with the lazy API, one function each, following the saved
SQL line by line. polars SQL lacks `percentile_cont`, `instr`, LIKE with a computed pattern, user functions
(the project's `local_date` and `epoch_seconds`), and mistypes `ORDER BY CASE … THEN 0 ELSE 1 END`;
those queries are the ones in LAZY. Placeholders are bound with each query's defaults (`now` →
--to), as for the DuckDB peer. What is timed is building the plan and collecting it; registering the
tables (lazy scans) is not, as the DuckDB peer's views are not.
"""
import argparse
import datetime as dt
import decimal
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import time

import polars as pl
import saved_sql
from saved_sql import bind, saved_queries

repo = saved_sql.REPO
UTC = pl.Datetime("us", "UTC")


def tables(lake):
    """Every lake table as a lazy Parquet scan and every reference CSV as a small frame, typed as
    the project's query layer types them (text, with the `*_order` columns as integers)."""
    t = {}
    for name in sorted(os.listdir(lake)):
        path = os.path.join(lake, name)
        if name.startswith("_") or not os.path.isdir(path) or not glob.glob(f"{path}/*/*.parquet"):
            continue
        # The partition column is inside every file, so no hive partitioning is needed.
        t[name] = pl.scan_parquet(f"{path}/*/*.parquet", hive_partitioning=False)
    for csv in glob.glob(os.path.join(repo, "queries/reference/*.csv")):
        df = pl.read_csv(csv, infer_schema=False)
        df = df.with_columns(pl.col(c).cast(pl.Int32) for c in df.columns if c.endswith("_order"))
        t[os.path.splitext(os.path.basename(csv))[0]] = df.lazy()
    return t


def ts(value):
    """A parameter's timestamp (ISO, `Z`) as a polars literal in UTC."""
    v = value if "T" in value else value + "T00:00:00Z"
    return pl.lit(dt.datetime.fromisoformat(v.replace("Z", "+00:00"))).cast(UTC)


def pct(part, whole):
    """round(100.0 * part / whole, 1), SQL's rounding (half away from zero)."""
    return (100.0 * part / whole).round(1, mode="half_away_from_zero")


def role():
    return pl.when(pl.col("is_admin")).then(pl.lit("admin")).otherwise(pl.lit("non-admin"))


def latest(frame):
    return frame.filter(pl.col("snapshot_date") == pl.col("snapshot_date").max())


def without_disabled(t, frame, p):
    """The users the portal counts: accounts disabled in the latest users snapshot left out,
    unless include_disabled=true (as the coverage queries' `disabled` CTE)."""
    if p.get("include_disabled") == "true":
        return frame
    disabled = latest(t["users"]).filter(~pl.col("account_enabled")).select("user_id")
    return frame.join(disabled, on="user_id", how="anti")


def accounts(p):
    return pl.lit("enabled and disabled" if p.get("include_disabled") == "true" else "enabled only")


def epoch_seconds(col):
    return col.dt.epoch("us") / 1e6


def reset_by_method(t, p):
    methods = t["sspr_steps"].filter(pl.col("method").is_not_null()).select("method").unique()
    listed = lambda c: pl.col(c).str.contains(pl.lit(",") + pl.col("method") + pl.lit(","), literal=True)  # noqa: E731
    a = (
        self_attempts(t, p)
        .filter(pl.col("methods_started").is_not_null() | pl.col("methods_completed").is_not_null())
        .group_by("methods_started", "methods_completed", succeeded=(pl.col("outcome") == "succeeded").cast(pl.Int64))
        .agg(n=pl.len().cast(pl.Int64))
        .select(
            "succeeded", "n",
            started_list=pl.lit(",") + pl.col("methods_started").fill_null("") + pl.lit(","),
            completed_list=pl.lit(",") + pl.col("methods_completed").fill_null("") + pl.lit(","),
        )
    )
    return (
        a.join(methods, how="cross")
        .filter(listed("started_list") | listed("completed_list"))
        .group_by("method")
        .agg(
            started=pl.col("n").sum(),
            completed=pl.when(listed("completed_list")).then(pl.col("n")).otherwise(0).sum(),
            succeeded=(pl.col("succeeded") * pl.col("n")).sum(),
        )
        .with_columns(
            completion_rate_pct=pct(pl.col("completed"), pl.col("started")),
            success_rate_pct=pct(pl.col("succeeded"), pl.col("started")),
        )
        .sort(["started", "method"], descending=[True, False])
    )


def self_attempts(t, p):
    return t["reset_attempts"].filter(
        pl.col("initiated_by") == "self", pl.col("started_at") >= ts(p["from"]), pl.col("started_at") < ts(p["to"])
    )


def reset_success_daily(t, p):
    ok = (pl.col("outcome") == "succeeded").cast(pl.Int64)
    return (
        self_attempts(t, p)
        .group_by(day=pl.col("started_at").dt.convert_time_zone(p["tz"]).dt.date())
        .agg(
            sessions_started=pl.len().cast(pl.Int64),
            sessions_succeeded=ok.sum(),
            sessions_not_succeeded=(1 - ok).sum(),
        )
        .with_columns(success_rate_pct=pct(pl.col("sessions_succeeded"), pl.col("sessions_started")))
        .sort("day")
    )


def time_to_reset(t, p):
    s = self_attempts(t, p).filter(pl.col("outcome") == "succeeded").select("client_kind", "duration_seconds")
    sliced = pl.concat([s.with_columns(client_kind=pl.lit("all")), s])
    q = lambda x: pl.col("duration_seconds").quantile(x, interpolation="linear").round(1, mode="half_away_from_zero")  # noqa: E731
    return (
        sliced.group_by("client_kind")
        .agg(
            resets=pl.len().cast(pl.Int64),
            p50_seconds=q(0.5), p90_seconds=q(0.9), p99_seconds=q(0.99),
            mean_seconds=pl.col("duration_seconds").mean().round(1, mode="half_away_from_zero"),
        )
        .sort(pl.col("client_kind") != "all", "client_kind")
    )


def registration_coverage(t, p):
    r = without_disabled(t, latest(t["registration_details"]), p)
    flags = ["is_sspr_registered", "is_sspr_enabled", "is_sspr_capable", "is_mfa_capable", "is_passwordless_capable"]
    cols = ["snapshot_date", *flags]
    sliced = pl.concat([
        r.select(user_type=pl.lit("all"), role=pl.lit("all"), *cols),
        r.select(user_type=pl.col("user_type").fill_null("unknown"), role=role(), *cols),
    ])
    n = lambda c: pl.col(c).cast(pl.Int64).sum()  # noqa: E731
    return (
        sliced.group_by("user_type", "role")
        .agg(
            snapshot_date=pl.col("snapshot_date").min(), users=pl.len().cast(pl.Int64),
            sspr_registered=n("is_sspr_registered"), sspr_enabled=n("is_sspr_enabled"), sspr_capable=n("is_sspr_capable"),
            mfa_capable=n("is_mfa_capable"), passwordless_capable=n("is_passwordless_capable"),
        )
        .with_columns(
            registered_pct=pct(pl.col("sspr_registered"), pl.col("users")),
            enabled_pct=pct(pl.col("sspr_enabled"), pl.col("users")),
            capable_pct=pct(pl.col("sspr_capable"), pl.col("users")),
            mfa_capable_pct=pct(pl.col("mfa_capable"), pl.col("users")),
            passwordless_capable_pct=pct(pl.col("passwordless_capable"), pl.col("users")),
            accounts=accounts(p),
        )
        .select("snapshot_date", "user_type", "role", "users", "sspr_registered", "sspr_enabled", "sspr_capable",
                "registered_pct", "enabled_pct", "capable_pct", "mfa_capable", "mfa_capable_pct",
                "passwordless_capable", "passwordless_capable_pct", "accounts")
        .sort(pl.col("user_type") != "all", "user_type", "role")
    )


def registration_coverage_trend(t, p):
    d = t["registration_coverage_daily"]
    if p.get("include_disabled") != "true":
        d = d.filter(pl.col("account_enabled"))
    cols = ["snapshot_date", "users", "sspr_registered", "sspr_enabled", "sspr_capable", "mfa_capable"]
    sliced = pl.concat([d.select(*cols, user_type=pl.lit("all")), d.select(*cols, "user_type")])
    lo, hi = (dt.date.fromisoformat(p[k]) for k in ("from", "to"))
    return (
        sliced.filter(pl.col("snapshot_date") >= lo, pl.col("snapshot_date") <= hi)
        .group_by("snapshot_date", "user_type")
        .agg(pl.col("users", "sspr_registered", "sspr_enabled", "sspr_capable", "mfa_capable").sum())
        .with_columns(capable_pct=pct(pl.col("sspr_capable"), pl.col("users")), accounts=accounts(p))
        .sort("snapshot_date", pl.col("user_type") != "all", "user_type")
    )


def users_not_covered(t, p):
    rd = t["registration_details"]
    capable_at = rd.group_by("user_id").agg(
        last_capable=pl.col("snapshot_date").filter(pl.col("is_sspr_capable")).max()
    )
    since = (
        rd.join(capable_at, on="user_id", how="left")
        .filter(pl.col("last_capable").is_null() | (pl.col("snapshot_date") > pl.col("last_capable")))
        .group_by("user_id")
        .agg(not_capable_since=pl.col("snapshot_date").min())
    )
    enabled = pl.col("is_sspr_enabled").fill_null(False)
    registered = pl.col("is_sspr_registered").fill_null(False)
    return (
        without_disabled(t, latest(rd), p)
        .filter(~pl.col("is_sspr_capable").fill_null(False))
        .join(since, on="user_id", how="left")
        .sort(~pl.col("is_admin").fill_null(False), "not_capable_since", "user_principal_name", nulls_last=True)
        .select(
            "user_principal_name", "user_display_name", "user_type",
            role=role(),
            missing=pl.when(~enabled & ~registered).then(pl.lit("not enabled, not registered"))
            .when(~enabled).then(pl.lit("not enabled by policy"))
            .otherwise(pl.lit("not registered")),
            methods_registered=pl.col("methods_registered"),
            not_capable_since=pl.col("not_capable_since"),
            snapshot_date=pl.col("snapshot_date"),
        )
    )


def new_users_unregistered(t, p):
    r = latest(t["registration_details"]).select("user_id", "snapshot_date", "is_admin", "is_sspr_registered")
    u = latest(t["users"]).drop("snapshot_date")
    age = epoch_seconds(pl.col("snapshot_date").cast(UTC)) - epoch_seconds(pl.col("created_time"))
    return (
        u.join(r, on="user_id")
        .filter(
            pl.col("account_enabled").fill_null(True),
            ~pl.col("is_sspr_registered").fill_null(False),
            pl.col("created_time").is_not_null(),
            age >= int(p["days"]) * 86400,
        )
        .sort("created_time", "user_principal_name")
        .select(
            "user_principal_name", "display_name", "user_type", "department", "created_time",
            days_since_created=(age / 86400).floor().cast(pl.Int64),
            role=role(),
        )
    )


def register_then_reset(t, p):
    security_info = [
        "User registered security info", "User registered all required security info",
        "User changed default security info", "User deleted security info", "User updated security info",
        "Admin registered security info", "Admin updated security info", "Admin deleted security info",
    ]
    reg = t["audit_events"].filter(pl.col("activity").is_in(security_info)).select(
        upn=pl.coalesce("target_upn", "actor_upn").str.to_lowercase(),
        registered_at=pl.col("activity_time"),
        reg_ip=pl.col("actor_ip"),
    )
    ra = t["reset_attempts"]
    prior = (
        ra.filter(pl.col("initiated_by") == "self", pl.col("ip").is_not_null())
        .group_by(upn=pl.col("user_principal_name").str.to_lowercase(), ip=pl.col("ip"))
        .agg(first_seen=pl.col("started_at").min())
    )
    gap = epoch_seconds(pl.col("started_at")) - epoch_seconds(pl.col("registered_at"))
    return (
        self_attempts(t, p)
        .with_columns(upn=pl.col("user_principal_name").str.to_lowercase())
        .join(reg, on="upn")
        .filter(pl.col("started_at") > pl.col("registered_at"), gap <= int(p["hours"]) * 3600)
        .filter(pl.col("ip").is_not_null(), pl.col("ip") != pl.col("reg_ip").fill_null(""))
        # LEFT JOIN prior ON upn, ip AND first_seen < registered_at … WHERE p.ip IS NULL
        .join(prior, on=["upn", "ip"], how="left")
        .filter(pl.col("first_seen").is_null() | (pl.col("first_seen") >= pl.col("registered_at")))
        .group_by("user_principal_name", "correlation_id", "started_at", "ip", "outcome", "methods_completed")
        .agg(registered_at=pl.col("registered_at").max(), registration_ip=pl.col("reg_ip").min())
        .sort("started_at", "correlation_id")
    )


def dc_password_resets(t, p):
    kind = pl.when(pl.col("subject_account").str.to_uppercase().str.starts_with(p["connector_prefix"].upper()))
    return (
        t["dc_security_events"]
        .filter(pl.col("event_id") == 4724, pl.col("time_created") >= ts(p["from"]), pl.col("time_created") < ts(p["to"]))
        .group_by(
            actor_kind=kind.then(pl.lit("connector")).otherwise(pl.lit("other")),
            result=pl.when(pl.col("audit_success")).then(pl.lit("success"))
            .when(~pl.col("audit_success")).then(pl.lit("failure")).otherwise(pl.lit("unknown")),
        )
        .agg(
            resets=pl.len().cast(pl.Int64),
            target_accounts=pl.col("target_account").drop_nulls().n_unique().cast(pl.Int64),
            subject_accounts=pl.col("subject_account").drop_nulls().n_unique().cast(pl.Int64),
            domain_controllers=pl.col("computer").drop_nulls().n_unique().cast(pl.Int64),
            first_seen=pl.col("time_created").min(),
            last_seen=pl.col("time_created").max(),
        )
        .sort("actor_kind", "result")
    )


def writeback_errors(t, p):
    e = (
        t["writeback_events"]
        .filter(pl.col("time_created") >= ts(p["from"]), pl.col("time_created") < ts(p["to"]))
        .with_row_index("row")
        .with_columns(code=pl.col("event_id").cast(pl.String), lmessage=pl.col("message").fill_null("").str.to_lowercase())
    )
    pats = t["message_patterns"]
    # Each event's first message pattern (lowest match_order) for its provider or '*'; LIKE's `%`
    # and `_` become `.*` and `.` of an anchored regular expression, the rest matched literally.
    regex = (
        pl.lit("(?s)^")
        + pl.col("pattern").str.replace_all(r"[\\.^$|?*+()\[\]{}]", r"\$0").str.replace_all("%", ".*", literal=True).str.replace_all("_", ".", literal=True)
        + pl.lit("$")
    )
    first = (
        e.select("row", "provider", "lmessage")
        .join(pats.select("provider", "match_order", rx=regex), how="cross", suffix="_p")
        .filter((pl.col("provider_p") == pl.col("provider")) | (pl.col("provider_p") == "*"))
        .filter(pl.col("lmessage").str.contains(pl.col("rx")))
        .group_by("row")
        .agg(pl.col("match_order").min())
    )
    codes = t["error_codes"].select(provider="source", code="code", x_name="name", x_category="category",
                                    x_meaning="meaning", x_resolution="resolution")
    p_cols = pats.select("match_order", detail="name", p_category="category", p_meaning="meaning", p_resolution="resolution")
    classified = (
        e.join(codes, on=["provider", "code"], how="left")
        .join(first, on="row", how="left")
        .join(p_cols, on="match_order", how="left")
        .with_columns(
            name=pl.col("x_name").fill_null("unknown"),
            code_category=pl.col("x_category").fill_null("unknown"),
            category=pl.coalesce("p_category", "x_category", pl.lit("unknown")),
            meaning=pl.coalesce("p_meaning", "x_meaning"),
            resolution=pl.coalesce("p_resolution", "x_resolution"),
            detail=pl.col("detail").fill_null(""),
        )
    )
    return (
        classified.filter(~pl.col("code_category").is_in(["start", "success", "health"]))
        .group_by("provider", "code", "name", "detail", "category")
        .agg(
            events=pl.len().cast(pl.Int64),
            operations=pl.col("tracking_id").drop_nulls().n_unique().cast(pl.Int64),
            first_seen=pl.col("time_created").min(),
            last_seen=pl.col("time_created").max(),
            hresult=pl.col("hresult").min(),
            meaning=pl.col("meaning").min(),
            resolution=pl.col("resolution").min(),
            example=pl.col("message").str.slice(0, 200).min(),
        )
        .sort(["events", "provider", "code", "detail"], descending=[True, False, False, False])
    )


def writeback_health(t, p):
    w = t["writeback_events"].filter(pl.col("time_created") >= ts(p["from"]), pl.col("time_created") < ts(p["to"]))
    reset = w.filter(pl.col("provider") == "PasswordResetService")
    out = ["computer", "kind", "starts", "ends", "minutes", "events"]
    service = reset.filter(pl.col("event_id").is_in([31015, 31016])).select(
        "computer",
        kind=pl.when(pl.col("event_id") == 31015).then(pl.lit("service_started")).otherwise(pl.lit("service_stopped")),
        starts=pl.col("time_created"), ends=pl.lit(None, UTC), minutes=pl.lit(None, pl.Int64), events=pl.lit(1, pl.Int64),
    )
    gap = epoch_seconds(pl.col("time_created")) - epoch_seconds(pl.col("previous"))
    gaps = (
        reset.filter(pl.col("event_id") == 31019)
        .sort("computer", "time_created")
        .with_columns(previous=pl.col("time_created").shift(1).over("computer"))
        .filter(pl.col("previous").is_not_null(), gap > int(p["gap_minutes"]) * 60)
        .select("computer", kind=pl.lit("heartbeat_gap"), starts=pl.col("previous"), ends=pl.col("time_created"),
                minutes=(gap / 60).floor().cast(pl.Int64), events=pl.lit(0, pl.Int64))
    )
    codes = t["error_codes"].select(provider="source", code="code", x_category="category")
    lmessage = pl.col("message").fill_null("").str.to_lowercase()
    connectivity = (
        w.with_columns(code=pl.col("event_id").cast(pl.String))
        .join(codes, on=["provider", "code"], how="left")
        .filter(
            (pl.col("x_category") == "connectivity").fill_null(False)
            | lmessage.str.contains("couldn't connect to any service bus endpoint", literal=True)
            | lmessage.str.contains("token provider was unable to provide a security token", literal=True)
        )
        .group_by("computer", starts=pl.col("time_created").dt.truncate("1h"))
        .agg(events=pl.len().cast(pl.Int64))
        .select("computer", kind=pl.lit("connectivity_errors"), starts=pl.col("starts"), ends=pl.lit(None, UTC),
                minutes=pl.lit(60, pl.Int64), events=pl.col("events"))
    )
    return pl.concat([f.select(out) for f in (service, gaps, connectivity)]).sort("starts", "computer", "kind")


LAZY = {f.__name__: f for f in (
    reset_by_method, reset_success_daily, time_to_reset, registration_coverage, registration_coverage_trend,
    users_not_covered, new_users_unregistered, register_then_reset, dc_password_resets, writeback_errors,
    writeback_health,
)}


def through_sql(t, body):
    ctx = pl.SQLContext(frames=t)
    return ctx.execute(body)


def defaults(sql, now):
    return {k: (now if d == "now" else d) for k, (_, d) in saved_sql.params(sql).items()}


def norm(v):
    """One value as text both sides agree on: floats to 6 places, times as ISO UTC without zone."""
    if v is None:
        return "None"
    if isinstance(v, float):
        return "None" if math.isnan(v) else f"{v:.6f}"
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() if v.tzinfo else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def norm_ours(v):
    """A value of sspr's JSON as `norm` writes it: its timestamps are ISO text with a zone."""
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
        return norm(dt.datetime.fromisoformat(v.replace("Z", "+00:00")))
    return norm(v)


def check(name, params, frame, a):
    """The answer of `sspr query NAME` (JSON) against polars' frame, column by column and row by
    row in order; whole-number floats compare equal to integers."""
    args = [a.sspr, "--lake", a.lake, "query", name, "--format", "json"]
    if params.get("to") == a.to:
        args += ["--param", f"to={a.to}"]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        return f"sspr failed: {out.stderr.strip()[:300]}"
    ours = json.loads(out.stdout)
    if len(ours) != frame.height:
        return f"sspr {len(ours)} rows, polars {frame.height}"
    cols = frame.columns
    # JSON rows leave out null values, so a row's keys are a subset of the columns, in order.
    for o in ours[:1]:
        if [c for c in cols if c in o] != list(o.keys()):
            return f"columns differ: sspr {list(o.keys())}, polars {cols}"

    def num(v):
        # polars SQL reads `100.0` as a decimal literal, so its ratios are decimals.
        numeric = isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool)
        return f"{float(v):.6f}" if numeric else None

    for i, (o, r) in enumerate(zip(ours, frame.iter_rows())):
        for c, ov, pv in zip(cols, (o.get(c) for c in cols), r):
            same = num(ov) == num(pv) if num(ov) is not None and num(pv) is not None else norm_ours(ov) == norm(pv)
            if not same:
                return f"row {i} column {c}: sspr {ov!r}, polars {pv!r}"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--query", action="append")
    ap.add_argument("--to", default="2026-11-15T00:00:00Z", help="value of a `to` parameter whose default is now")
    ap.add_argument("--check", action="store_true", help="compare each answer with `sspr query`")
    ap.add_argument("--sspr", default="target/release/sspr")
    a = ap.parse_args()
    failures = 0
    for name, sql in saved_queries(a.query):
        if saved_sql.required(sql):
            print(f"{name}: skipped (a lookup: needs {', '.join(saved_sql.required(sql))})")
            continue
        params = defaults(sql, a.to)
        times, frame, how = [], None, "lazy" if name in LAZY else "sql"
        try:
            for _ in range(a.runs):
                t = tables(a.lake)
                start = time.perf_counter()
                plan = LAZY[name](t, params) if name in LAZY else through_sql(t, bind(sql, lambda s: f"CAST('{s}+00:00' AS TIMESTAMPTZ)", a.to))
                frame = plan.collect()
                times.append(time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"{name}: polars fails: {' '.join(str(e).split())[:300]}")
            continue
        line = f"{name}: median {statistics.median(times) * 1000:.2f} ms over {a.runs} runs ({how}), {frame.height} rows"
        if a.check:
            diff = check(name, params, frame, a)
            failures += diff is not None
            line += f", {'DIFF ' + diff if diff else 'same as sspr'}"
        print(line, flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
