"""Issue 22 item 6: reads every table of one export with two independent readers, pyarrow and
DuckDB, and checks the Power BI-safe profile. Prints {"bad": [...], "tables": {name: [manifest
rows, pyarrow rows, DuckDB rows]}}.

    python3 export_profile.py DIR                         # a local export generation
    python3 export_profile.py az://CONTAINER/PATH PORT    # the same on Azurite at 127.0.0.1:PORT

On Azurite pyarrow reads the blobs itself (its AzureFileSystem, the emulator's well-known
account); DuckDB, which has no Azure reader without a network download, reads a copy that pyarrow
fetched.
"""
import json
import sys
import tempfile

import duckdb
import pyarrow.fs as pafs
import pyarrow.parquet as pq

EMULATOR_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ALLOWED = {"string", "bool", "int32", "int64", "double", "date32[day]", "timestamp[us, tz=UTC]"}


def main():
    root = sys.argv[1]
    if root.startswith("az://"):
        fs = pafs.AzureFileSystem(
            account_name="devstoreaccount1",
            account_key=EMULATOR_KEY,
            blob_storage_authority=f"127.0.0.1:{sys.argv[2]}",
            blob_storage_scheme="http",
            dfs_storage_authority=f"127.0.0.1:{sys.argv[2]}",
            dfs_storage_scheme="http",
        )
        root = root[len("az://"):]
    else:
        fs = pafs.LocalFileSystem()
    with fs.open_input_stream(f"{root}/_export.json") as f:
        manifest = json.loads(f.read())
    local = tempfile.mkdtemp()
    if not isinstance(fs, pafs.LocalFileSystem):
        pafs.copy_files(root, local, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    else:
        local = root
    bad, tables = [], {}
    con = duckdb.connect()
    for t in manifest["tables"]:
        # A table with no rows in the lake (the `runs` table before any nightly run) has no folder.
        infos = fs.get_file_info(pafs.FileSelector(f"{root}/{t['name']}", recursive=True, allow_not_found=True))
        files = sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet"))
        schemas, pa_rows = set(), 0
        for path in files:
            with fs.open_input_file(path) as handle:
                pf = pq.ParquetFile(handle)
                md, arrow = pf.metadata, pf.schema_arrow
                pa_rows += pf.read().num_rows
            name = path.rsplit("/", 1)[-1]
            schemas.add(str(arrow))
            for fld in arrow:
                if str(fld.type) not in ALLOWED:
                    bad.append(f"{name}:{fld.name}:{fld.type}")
            if t["partition_column"] and t["partition_column"] not in arrow.names:
                bad.append(f"{path}: no {t['partition_column']} column")
            if md.format_version != "1.0":
                bad.append(f"{path}: format {md.format_version}")
            for rg in range(md.num_row_groups):
                for c in range(md.num_columns):
                    col = md.row_group(rg).column(c)
                    if col.compression != "SNAPPY":
                        bad.append(f"{name}:{col.path_in_schema}:{col.compression}")
                    if any(e.startswith("DELTA") or e == "BYTE_STREAM_SPLIT" for e in col.encodings):
                        bad.append(f"{name}:{col.path_in_schema}:{col.encodings}")
                    if col.physical_type == "INT96":
                        bad.append(f"{name}:{col.path_in_schema}: INT96")
        if len(schemas) > 1:
            bad.append(f"{t['name']}: {len(schemas)} schemas")
        if not files:
            if t["rows"]:
                bad.append(f"{t['name']}: no files for {t['rows']} rows")
            tables[t["name"]] = [t["rows"], 0, 0]
            continue
        pattern = f"{local}/{t['name']}/**/*.parquet"
        n = con.execute(f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = false)").fetchone()[0]
        tables[t["name"]] = [t["rows"], pa_rows, n]
    print(json.dumps({"bad": bad[:10], "tables": tables}))


main()
