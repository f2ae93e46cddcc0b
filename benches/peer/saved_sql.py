"""The saved queries of queries/*.sql for the peer engines: their header parameters, and the
SQL with every `$name` replaced by a literal of the parameter's default (peers have no
placeholders). Only the timestamp literal differs between engines, so the caller passes it."""
import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def saved_queries(only=None):
    """(name, sql text) of every saved query, sorted; `only` limits to those names."""
    for path in sorted(glob.glob(os.path.join(REPO, "queries/*.sql"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if not only or name in only:
            yield name, open(path).read()


def params(sql):
    """{name: (type, default)} from the `-- params:` header line."""
    out = {}
    for line in sql.splitlines():
        if line.startswith("-- params:"):
            for p in filter(None, (x.strip() for x in line[len("-- params:"):].split(","))):
                name, rest = p.split(":", 1)
                ty, default = rest.split("=", 1) if "=" in rest else (rest, None)
                out[name.strip()] = (ty.strip(), default)
    return out


def required(sql):
    """The parameters a query has no default for (a per-user lookup such as user_timeline)."""
    return [name for name, (_, default) in params(sql).items() if default is None]


def bind(sql, timestamp_literal, now, given=None):
    """The query without comments, each `$param` replaced by its value in `given` (a dict), else
    its default, as a literal. `timestamp_literal("YYYY-MM-DD HH:MM:SS")` writes an engine's UTC
    timestamp literal; a default of `now` becomes `now` (an ISO instant). A parameter with neither
    raises KeyError naming it."""
    given = given or {}
    def literal(ty, default):
        if ty == "timestamp":
            v = now if default == "now" else default
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                v += "T00:00:00Z"
            return timestamp_literal(v.replace("T", " ").replace("Z", ""))
        if ty == "date":
            return f"DATE '{default}'"
        if ty in ("int", "float", "bool"):
            return default
        return "'" + default.replace("'", "''") + "'"

    body = "\n".join(l for l in sql.splitlines() if not l.startswith("--"))
    for name, (ty, default) in sorted(params(sql).items(), key=lambda kv: -len(kv[0])):
        value = given.get(name, default)
        if value is None:
            raise KeyError(f"parameter {name} has no default: give it with --param")
        body = body.replace("$" + name, literal(ty, value))
    return body
