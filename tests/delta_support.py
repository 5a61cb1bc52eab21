"""Helpers shared by the Delta Lake suites (tests/interop/test_delta_*.py, tests/e2e/test_delta_crash.py):
running laminar-connect, reading a Delta table's log by the public protocol, and judging a
table with the reference readers (delta-rs and duckdb).

The fixtures `delta_sink` and `delta_source` skip a test while laminar-connect has no
`delta-lake` connector of that kind (per `laminar-connect connectors`); once it has one,
the tests run and fail on a wrong result.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time
import urllib.parse

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

DELTA = "delta-lake"


@pytest.fixture(scope="session")
def delta_sink(laminar_connectors):
    if ("sink", DELTA) not in laminar_connectors:
        pytest.skip("laminar-connect has no 'delta-lake' sink yet (issue 4): `laminar-connect connectors` "
                    "does not list it")


@pytest.fixture(scope="session")
def delta_source(laminar_connectors):
    if ("source", DELTA) not in laminar_connectors:
        pytest.skip("laminar-connect has no 'delta-lake' source yet (issue 4): `laminar-connect connectors` "
                    "does not list it")


# ---------------------------------------------------------------------------------------
# Running the CLI

def run(binary, ddl, checkpoints, interval_ms=200, env_extra=None, kill_after=None, timeout=180, kill_once=None):
    """Runs `laminar-connect run`; SIGKILLs it after `kill_after` seconds if given, counted
    from when `kill_once()` first returns true if that is given too (polled every 10 ms;
    e.g. "this run has committed"), so the kill lands mid-stream rather than during start-up.
    Returns (exit code, combined output)."""
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    env.update(env_extra or {})
    cmd = [binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval",
           str(interval_ms), "--no-status"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    if kill_after is not None:
        if kill_once is not None:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and not kill_once() and time.monotonic() < deadline:
                time.sleep(0.01)
        try:
            out, _ = proc.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
    else:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError(f"laminar-connect did not finish within {timeout} s:\n{out.decode(errors='replace')}")
    return proc.returncode, out.decode(errors="replace")


class Running:
    """A pipeline that runs until told to stop (streaming sources): start, wait, SIGINT."""

    def __init__(self, binary, ddl, checkpoints, interval_ms=200, env_extra=None):
        env = dict(os.environ)
        env.pop("LAMINAR_FAULT_POINT", None)
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval", str(interval_ms),
             "--no-status"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGINT (final checkpoint, exit 0). Returns (exit code, output)."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out.decode(errors="replace")


def wait_until(predicate, timeout, what, interval=0.1, alive=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if alive is not None and not alive():
            if predicate():
                return
            raise AssertionError(f"the pipeline exited before {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sql_string(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def delta_options(**options) -> str:
    """Renders a DELTA_LAKE option list: delta_options(**{'table.path': p, 'write.mode': 'append'})."""
    return ",\n  ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in options.items() if v is not None)


def storage_option_entries(options: dict) -> dict:
    return {f"storage.{k}": v for k, v in options.items()}


# ---------------------------------------------------------------------------------------
# The log, read by the protocol (local tables)

def log_dir(table: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(table) / "_delta_log"


def commit_versions(table) -> list:
    return sorted(int(p.name[:20]) for p in log_dir(table).glob("*.json")
                  if len(p.name) == 25 and p.name[:20].isdigit())


def read_commit(table, version: int) -> list:
    """The actions of one commit, in file order, as {action name: body} dicts."""
    text = (log_dir(table) / f"{version:020d}.json").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def txns_of(actions, app_id=None) -> list:
    return [a["txn"] for a in actions if "txn" in a and (app_id is None or a["txn"]["appId"] == app_id)]


def adds_of(actions) -> list:
    return [a["add"] for a in actions if "add" in a]


def removes_of(actions) -> list:
    return [a["remove"] for a in actions if "remove" in a]


def table_schema_from_log(table) -> dict:
    """The newest metaData's schema (JSON), from the JSON commits (local tables)."""
    schema = None
    for v in commit_versions(table):
        for a in read_commit(table, v):
            if "metaData" in a:
                schema = json.loads(a["metaData"]["schemaString"])
    return schema


def strip_metadata(delta_type):
    """A Delta schema type without the per-field `metadata` maps, for comparisons."""
    if isinstance(delta_type, dict):
        return {k: strip_metadata(v) for k, v in delta_type.items() if k != "metadata"}
    if isinstance(delta_type, list):
        return [strip_metadata(v) for v in delta_type]
    return delta_type


def check_commit_structure(table, writer_id):
    """Every commit is one JSON file of one action per line; versions run 0..N without gaps;
    the first holds protocol and metaData; each commit that adds data carries exactly one
    txn (its writer's), and the txn versions of `writer_id` strictly increase (one commit per
    epoch, no epoch committed twice). Returns {version: txn version} for `writer_id`."""
    versions = commit_versions(table)
    assert versions, f"no commits under {log_dir(table)}"
    assert versions == list(range(len(versions))), f"commit versions have gaps: {versions}"
    first = read_commit(table, 0)
    assert any("protocol" in a for a in first), "version 0 has no protocol action"
    assert any("metaData" in a for a in first), "version 0 has no metaData action"
    by_version = {}
    for v in versions:
        actions = read_commit(table, v)
        for a in actions:
            assert len(a) == 1, f"version {v}: a line holds more than one action: {list(a)}"
        txns = txns_of(actions, writer_id)
        assert len(txns) <= 1, f"version {v}: {len(txns)} txn actions for {writer_id}"
        if adds_of(actions) and any(a.get("dataChange", True) for a in adds_of(actions)):
            # Other writers may share the table: each data commit carries its writer's txn.
            assert len(txns_of(actions)) == 1, f"version {v} adds data with {len(txns_of(actions))} txn actions"
        if txns:
            by_version[v] = txns[0]["version"]
    epochs = list(by_version.values())
    assert epochs == sorted(epochs) and len(set(epochs)) == len(epochs), \
        f"txn versions of {writer_id} are not strictly increasing (an epoch committed twice?): {by_version}"
    return by_version


def referenced_files(table) -> set:
    """Every data file path any commit ever added (decoded, relative to the table root)."""
    paths = set()
    for v in commit_versions(table):
        for add in adds_of(read_commit(table, v)):
            paths.add(urllib.parse.unquote(add["path"]))
    return paths


def unreferenced_data_files(table) -> list:
    """Parquet files under the table root (outside _delta_log) that no commit references."""
    table = pathlib.Path(table)
    known = referenced_files(table)
    found = []
    for p in table.rglob("*.parquet"):
        rel = p.relative_to(table).as_posix()
        if rel.startswith("_delta_log/"):
            continue
        if rel not in known:
            found.append(rel)
    return sorted(found)


# ---------------------------------------------------------------------------------------
# Reading with the reference readers

def normalize_type(t: pa.DataType) -> pa.DataType:
    """Arrow types up to representation choices that do not change values: string/large/view
    variants, list child names and nullability, dictionary encoding."""
    if pa.types.is_dictionary(t):
        return normalize_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t) \
            or pa.types.is_large_list_view(t):
        return pa.list_(normalize_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, normalize_type(f.type), f.nullable) for f in t])
    if pa.types.is_timestamp(t):
        return pa.timestamp(t.unit, tz="UTC" if t.tz else None)
    return t


def without_nullability(t: pa.DataType) -> pa.DataType:
    """The type with every nested field nullable (duckdb exports all fields as nullable)."""
    if pa.types.is_list(t):
        return pa.list_(without_nullability(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, without_nullability(f.type)) for f in t])
    return t


def normalize_table(table: pa.Table) -> pa.Table:
    fields = [pa.field(f.name, normalize_type(f.type), f.nullable) for f in table.schema]
    return pa.Table.from_arrays([c.cast(f.type) for c, f in zip(table.columns, fields)], schema=pa.schema(fields))


def comparable(column: pa.ChunkedArray) -> list:
    """Python values of a column; timestamps as integers in their unit (time zones aside)."""
    if pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.int64()).to_pylist()
    return column.to_pylist()


def delta_table(path, version=None, storage_options=None):
    from deltalake import DeltaTable
    return DeltaTable(str(path), version=version, storage_options=storage_options)


def local_root(dt) -> str:
    root = dt.table_uri.rstrip("/")
    if root.startswith("file://"):
        root = urllib.parse.unquote(root[len("file://"):])
    return root


def read_delta(dt) -> pa.Table:
    """delta-rs's scan of a local table, its files opened through pyarrow's own local
    filesystem: with delta-rs's default Python filesystem handler (deltalake 1.6.6, pyarrow
    26) the interpreter aborts at exit now and then ("terminate called without an active
    exception"), which would fail the whole pytest run."""
    from pyarrow import fs
    return dt.to_pyarrow_table(filesystem=fs.SubTreeFileSystem(local_root(dt), fs.LocalFileSystem()))


def delta_rows(path, version=None, sort_by="id") -> pa.Table:
    """The table as delta-rs reads it (local path), sorted."""
    table = read_delta(delta_table(path, version))
    return table.sort_by(sort_by) if sort_by and table.num_rows else table


def delta_arrow_schema(dt) -> pa.Schema:
    return pa.schema(dt.schema().to_arrow())


def add_actions(dt) -> list:
    return pa.table(dt.get_add_actions(flatten=False)).to_pylist()


def duckdb_rows(dt, sort_by="id") -> pa.Table:
    """The table read by duckdb's read_parquet over the files delta-rs lists (duckdb's own
    delta extension cannot be downloaded here), with partition columns added from each
    file's partitionValues. If the files also hold the partition columns, they must agree."""
    partition_columns = list(dt.metadata().partition_columns)
    schema = delta_arrow_schema(dt)
    root = local_root(dt)
    by_file = {}
    for add in add_actions(dt):
        absolute = os.path.normpath(os.path.join(root, urllib.parse.unquote(add["path"])))
        by_file[absolute] = add.get("partition") or {}
    files = [os.path.normpath(u) for u in dt.file_uris()]
    if not files:
        return schema.empty_table()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    listing = "[" + ", ".join(sql_string(f) for f in files) + "]"
    table = con.sql(f"SELECT * FROM read_parquet({listing}, filename = true, union_by_name = true, "
                        f"hive_partitioning = false)").to_arrow_table()
    filenames = [os.path.normpath(f) for f in table.column("filename").to_pylist()]
    table = table.drop_columns(["filename"])
    for column in partition_columns:
        field = schema.field(column)
        values = pa.array([by_file[f][column] for f in filenames], type=field.type)
        if column in table.column_names:
            in_file = table.column(column).cast(field.type)
            assert comparable(pa.chunked_array([in_file.combine_chunks()])) == comparable(pa.chunked_array([values])), \
                f"partition column {column}: the values inside the files differ from their partitionValues"
            table = table.drop_columns([column])
        table = table.append_column(column, values)
    # Columns added later by schema evolution are missing from older files: null there.
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    table = table.select(schema.names)
    return table.sort_by(sort_by) if sort_by and table.num_rows else table


def assert_same_rows(got: pa.Table, want: pa.Table, what: str, columns=None):
    columns = columns or want.column_names
    assert got.num_rows == want.num_rows, f"{what}: {got.num_rows} rows, expected {want.num_rows}"
    for c in columns:
        assert c in got.column_names, f"{what}: column {c} is missing"
        g, w = comparable(got.column(c)), comparable(want.column(c))
        if g != w:
            first = next(i for i, (a, b) in enumerate(zip(g, w)) if a != b)
            raise AssertionError(f"{what}: column {c} differs first at row {first}: {g[first]!r} != {w[first]!r}")


def assert_same_types(got: pa.Schema, want: pa.Schema, what: str, nullability=True):
    assert got.names == want.names, f"{what}: columns {got.names} != {want.names}"
    for g, w in zip(got, want):
        gt, wt = normalize_type(g.type), normalize_type(w.type)
        if not nullability:
            gt, wt = without_nullability(gt), without_nullability(wt)
        assert gt == wt, f"{what}: column {g.name}: {g.type} != {w.type}"
        if nullability:
            assert g.nullable == w.nullable, f"{what}: column {g.name}: nullable {g.nullable} != {w.nullable}"


def assert_readers_agree(path, version=None, sort_by="id") -> pa.Table:
    """delta-rs and duckdb read the same rows, column names and types at `version`.
    Returns delta-rs's table."""
    dt = delta_table(path, version)
    from_delta = read_delta(dt)
    from_delta = from_delta.sort_by(sort_by) if from_delta.num_rows else from_delta
    schema = delta_arrow_schema(dt)
    assert_same_types(from_delta.schema, schema, f"version {dt.version()}: delta-rs rows vs the table schema")
    from_duckdb = duckdb_rows(dt, sort_by)
    assert_same_types(from_duckdb.schema, schema, f"version {dt.version()}: duckdb vs the table schema",
                      nullability=False)
    assert_same_rows(from_duckdb, from_delta, f"version {dt.version()}: duckdb vs delta-rs")
    return from_delta


def check_partition_layout(path, partition_columns):
    """Every add action lives under Hive-style directories col=value/ in partition column
    order (null as __HIVE_DEFAULT_PARTITION__), and its partitionValues (strings or null,
    one per partition column) name the same values."""
    table = pathlib.Path(path)
    for v in commit_versions(table):
        for add in adds_of(read_commit(table, v)):
            values = add["partitionValues"]
            assert sorted(values) == sorted(partition_columns), \
                f"version {v}: partitionValues keys {sorted(values)} != {sorted(partition_columns)}"
            for column, value in values.items():
                assert value is None or isinstance(value, str), \
                    f"version {v}: partitionValues[{column}] is {value!r}, not a string or null"
            rel = urllib.parse.unquote(add["path"])
            parts = rel.split("/")
            assert len(parts) == len(partition_columns) + 1, f"version {v}: {rel} is not col=value/.../file"
            for part, column in zip(parts, partition_columns):
                name, _, raw = part.partition("=")
                assert name == column, f"version {v}: directory {part} of {rel}, expected {column}=..."
                expected = "__HIVE_DEFAULT_PARTITION__" if values[column] is None else values[column]
                assert urllib.parse.unquote(raw) == expected, \
                    f"version {v}: directory {part} of {rel} disagrees with partitionValues {values}"
            assert (table / rel).is_file(), f"version {v}: {rel} does not exist"


def copy_tree(fs_, base: str, local: pathlib.Path):
    """Copies a remote table (pyarrow filesystem + base path) to a local directory."""
    from pyarrow import fs as pafs
    local.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(base, str(local), source_filesystem=fs_, destination_filesystem=pafs.LocalFileSystem())
    return local


def truncated_log_copy(table, tmp: pathlib.Path, through_version: int) -> pathlib.Path:
    """A copy of the table whose JSON commits up to `through_version` are gone, so a reader
    must start from the checkpoint."""
    copy = tmp / "truncated"
    shutil.copytree(table, copy)
    for v in commit_versions(copy):
        if v <= through_version:
            (log_dir(copy) / f"{v:020d}.json").unlink()
    return copy
