"""Delta Lake tables judged by the reference readers (issue 4; spec 30 §4-§6).

Sink: tables laminar-connect writes (datagen/files -> DELTA_LAKE) are read by delta-rs
(`deltalake`) and by duckdb (read_parquet over the files delta-rs lists; duckdb's delta
extension cannot be downloaded here) with identical rows, schema and partition values at
every version; the log follows the public Delta protocol (one commit per epoch with
txn{appId=writer.id, version=epoch}, Hive-style partition directories, Parquet
checkpoints + _last_checkpoint); upsert, partition overwrite, schema evolution, cloud
storage on the emulators and concurrent writers.

Source: tables delta-rs writes (appends, overwrite, schema evolution, checkpoints,
partitions) are read identically by the delta-lake source, from a start snapshot and while
it follows the table (an overwrite as deletes + inserts in changelog mode, refused or
skipped in append mode; a merged schema; checkpoints every two versions).

Tests that need the connector skip while `laminar-connect connectors` does not list it
(fixtures delta_sink / delta_source); the judges themselves are checked on tables delta-rs
writes by test_the_judges_*, which always run.
"""
import json
import pathlib
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from delta_support import (Running, adds_of, assert_readers_agree, assert_same_rows, assert_same_types,
                           check_commit_structure, check_partition_layout, commit_versions, comparable, copy_tree,
                           delta_options, delta_rows, delta_sink, delta_source, delta_table, log_dir,  # noqa: F401
                           read_commit, removes_of, run, sql_string, storage_option_entries, strip_metadata,
                           table_schema_from_log, truncated_log_copy, txns_of, unreferenced_data_files,
                           wait_until)

# ---------------------------------------------------------------------------------------
# Every DDL type that has a Delta type of its own.

TYPES_COLUMNS = """
  id BIGINT NOT NULL,
  flag BOOLEAN,
  tiny TINYINT,
  small SMALLINT,
  regular INT NOT NULL,
  real_value REAL,
  double_value DOUBLE,
  price DECIMAL(12, 3),
  name VARCHAR,
  payload BYTEA,
  day DATE,
  at TIMESTAMP(6) WITH TIME ZONE,
  numbers INT[],
  point STRUCT<x DOUBLE, y DOUBLE NOT NULL>"""

EXPECTED_DELTA_SCHEMA = [
    ("id", "long", False),
    ("flag", "boolean", True),
    ("tiny", "byte", True),
    ("small", "short", True),
    ("regular", "integer", False),
    ("real_value", "float", True),
    ("double_value", "double", True),
    ("price", "decimal(12,3)", True),
    ("name", "string", True),
    ("payload", "binary", True),
    ("day", "date", True),
    ("at", "timestamp", True),
    ("numbers", {"type": "array", "elementType": "integer", "containsNull": True}, True),
    ("point", {"type": "struct", "fields": [{"name": "x", "type": "double", "nullable": True},
                                            {"name": "y", "type": "double", "nullable": False}]}, True),
]

TYPES_ROWS = 20_000

TYPES_DDL = """
CREATE SOURCE events ({columns}
) FROM DATAGEN (
  'rows-per-second' = '{rate}',
  'number-of-rows' = '{rows}',
  'fields.id.kind' = 'sequence',
  'fields.name.null-rate' = '0.2',
  'fields.price.min' = '-1000',
  'fields.price.max' = '1000',
  'fields.region.values' = 'eu,us,apac',
  'fields.region.null-rate' = '0.1',
  'fields.bucket.min' = '0',
  'fields.bucket.max' = '2',
  seed = '{seed}'
);
CREATE SINK lake FROM events INTO DELTA_LAKE (
  {delta}
);
CREATE SINK reference FROM events INTO FILES (path = {reference}, format = 'parquet');
"""


def write_types_pipeline(tmp: pathlib.Path, delta: dict, rows=TYPES_ROWS, rate=20_000, seed=11,
                         partitioned=False) -> pathlib.Path:
    columns = TYPES_COLUMNS + (",\n  region VARCHAR,\n  bucket INT" if partitioned else "")
    ddl = TYPES_DDL.format(columns=columns, rate=rate, rows=rows, seed=seed, delta=delta_options(**delta),
                           reference=sql_string(tmp / "reference"))
    if not partitioned:  # datagen rejects options for undeclared columns
        ddl = "\n".join(line for line in ddl.splitlines() if "fields.region" not in line and "fields.bucket" not in line)
    path = tmp / "pipeline.sql"
    path.write_text(ddl)
    return path


def reference_rows(tmp: pathlib.Path) -> pa.Table:
    return ds.dataset(str(tmp / "reference"), format="parquet").to_table().sort_by("id")


def versions_of(path) -> list:
    return list(range(delta_table(path).version() + 1))


# ---------------------------------------------------------------------------------------
# The judges, on tables delta-rs writes (always run: they prove the checks themselves).

def test_the_judges_on_a_delta_rs_table(tmp_path):
    path = tmp_path / "t"
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()),
                        pa.field("at", pa.timestamp("us", tz="UTC")), pa.field("numbers", pa.list_(pa.int32())),
                        pa.field("region", pa.string()), pa.field("bucket", pa.int32())])
    regions = ["eu", "us", None]
    next_id = 0
    for epoch in range(1, 6):
        ids = list(range(next_id, next_id + 300))
        next_id += 300
        batch = pa.table({"id": ids, "name": [None if i % 7 == 0 else f"n{i}" for i in ids],
                          "at": [i * 1000 for i in ids], "numbers": [[i, i + 1] for i in ids],
                          "region": [regions[i % 3] for i in ids], "bucket": [i % 2 for i in ids]}, schema=schema)
        write_deltalake(str(path), batch, mode="append", partition_by=["region", "bucket"],
                        commit_properties=CommitProperties(app_transactions=[Transaction("judge", epoch)]))
    DeltaTable(str(path)).create_checkpoint()
    txns = check_commit_structure(path, "judge")
    assert list(txns.values()) == [1, 2, 3, 4, 5]
    check_partition_layout(path, ["region", "bucket"])
    for v in versions_of(path):
        table = assert_readers_agree(path, v)
        assert table.column("id").to_pylist() == list(range(300 * (v + 1)))
    assert unreferenced_data_files(path) == []
    last = json.loads((log_dir(path) / "_last_checkpoint").read_text())
    copy = truncated_log_copy(path, tmp_path, last["version"])
    assert DeltaTable(str(copy)).transaction_version("judge") == 5
    assert_same_rows(delta_rows(copy), delta_rows(path), "checkpoint-only copy")


def test_the_judges_catch_a_duplicated_epoch(tmp_path):
    path = tmp_path / "t"
    batch = pa.table({"id": pa.array([1, 2], pa.int64())})
    for epoch in (1, 2, 2):
        write_deltalake(str(path), batch, mode="append",
                        commit_properties=CommitProperties(app_transactions=[Transaction("dup", epoch)]))
    with pytest.raises(AssertionError, match="strictly increasing"):
        check_commit_structure(path, "dup")


# ---------------------------------------------------------------------------------------
# Sink: every type, every version, both readers.

@pytest.fixture(scope="module")
def types_table(laminar_connect, delta_sink, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delta_types")
    table = tmp / "table"
    ddl = write_types_pipeline(tmp, {"table.path": table, "writer.id": "interop-types"})
    code, log = run(laminar_connect, ddl, tmp / "cp", interval_ms=100)
    assert code == 0, log
    return table, reference_rows(tmp)


def test_table_schema_is_the_declared_one(types_table):
    table, _ = types_table
    schema = strip_metadata(table_schema_from_log(table))
    assert schema["type"] == "struct"
    got = [(f["name"], f["type"], f["nullable"]) for f in schema["fields"]]
    assert got == EXPECTED_DELTA_SCHEMA
    meta = [a["metaData"] for a in read_commit(table, 0) if "metaData" in a][0]
    assert meta["format"]["provider"] == "parquet"
    assert meta["partitionColumns"] == []
    protocol = [a["protocol"] for a in read_commit(table, 0) if "protocol" in a][0]
    assert protocol["minReaderVersion"] >= 1 and protocol["minWriterVersion"] >= 2


def test_delta_rs_reads_the_generated_rows(types_table):
    table, reference = types_table
    got = delta_rows(table)
    assert got.num_rows == TYPES_ROWS
    assert got.column("id").to_pylist() == list(range(TYPES_ROWS))
    assert_same_types(got.schema, reference.schema, "delta-rs vs the files sink of the same source")
    assert_same_rows(got, reference, "delta-rs vs the files sink of the same source")


def test_delta_rs_and_duckdb_agree_at_every_version(types_table):
    table, reference = types_table
    versions = versions_of(table)
    assert len(versions) >= 4, f"expected several epochs, got versions {versions}"
    previous = 0
    for v in versions:
        rows = assert_readers_agree(table, v)
        ids = rows.column("id").to_pylist()
        assert ids == list(range(len(ids))), f"version {v}: not a prefix of the sequence"
        assert len(ids) >= previous, f"version {v} lost rows"
        previous = len(ids)
        assert_same_rows(rows, reference.slice(0, len(ids)), f"version {v} vs the reference")
    assert previous == TYPES_ROWS


def test_one_commit_per_epoch_with_the_writer_txn(types_table):
    table, _ = types_table
    txns = check_commit_structure(table, "interop-types")
    assert txns, "no commit carries a txn for writer.id"
    dt = delta_table(table)
    assert dt.transaction_version("interop-types") == max(txns.values())
    for v in commit_versions(table):
        actions = read_commit(table, v)
        assert any("commitInfo" in a for a in actions), f"version {v} has no commitInfo"
        for add in adds_of(actions):
            assert add["dataChange"] is True
            assert not add["path"].startswith("/") and "://" not in add["path"], f"absolute path {add['path']}"


def test_add_actions_carry_true_statistics(types_table):
    table, _ = types_table
    for v in commit_versions(table):
        for add in adds_of(read_commit(table, v)):
            file = pq.read_table(table / add["path"])
            assert add["size"] == (table / add["path"]).stat().st_size
            stats = json.loads(add["stats"])
            assert stats["numRecords"] == file.num_rows, add["path"]
            ids = file.column("id").to_pylist()
            assert stats["minValues"]["id"] == min(ids) and stats["maxValues"]["id"] == max(ids), add["path"]
            assert stats["nullCount"]["id"] == 0
            assert stats["nullCount"]["name"] == file.column("name").null_count


def test_no_unreferenced_files(types_table):
    table, _ = types_table
    assert unreferenced_data_files(table) == []
    assert not [p for p in table.rglob("*") if p.is_file() and "staging" in p.as_posix()
                and not p.as_posix().startswith(str(log_dir(table)))], "staged files left behind"


# ---------------------------------------------------------------------------------------
# Sink: partitions.

@pytest.fixture(scope="module")
def partitioned_table(laminar_connect, delta_sink, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delta_partitioned")
    table = tmp / "table"
    ddl = write_types_pipeline(tmp, {"table.path": table, "writer.id": "interop-parts",
                                     "partition.columns": "region, bucket"}, rows=6000, rate=10_000,
                               partitioned=True)
    code, log = run(laminar_connect, ddl, tmp / "cp", interval_ms=150)
    assert code == 0, log
    return table, reference_rows(tmp)


def test_partitioned_table_has_hive_directories_and_true_partition_values(partitioned_table):
    table, reference = partitioned_table
    meta = [a["metaData"] for a in read_commit(table, 0) if "metaData" in a][0]
    assert meta["partitionColumns"] == ["region", "bucket"]
    check_partition_layout(table, ["region", "bucket"])
    by_id = {row["id"]: row for row in reference.select(["id", "region", "bucket"]).to_pylist()}
    for v in commit_versions(table):
        for add in adds_of(read_commit(table, v)):
            values = add["partitionValues"]
            file = pq.read_table(table / add["path"], columns=["id"])
            for i in file.column("id").to_pylist():
                row = by_id[i]
                assert values["region"] == row["region"], (add["path"], i)
                assert values["bucket"] == (None if row["bucket"] is None else str(row["bucket"])), (add["path"], i)


def test_partitioned_table_reads_the_same_everywhere(partitioned_table):
    table, reference = partitioned_table
    for v in versions_of(table):
        assert_readers_agree(table, v)
    got = delta_rows(table)
    assert_same_rows(got, reference, "partitioned table vs the files sink", columns=reference.column_names)
    assert got.schema.field("region").type == pa.string() and got.schema.field("bucket").type == pa.int32()


# ---------------------------------------------------------------------------------------
# Sink: Parquet checkpoints of the log.

@pytest.fixture(scope="module")
def checkpointed_table(laminar_connect, delta_sink, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delta_checkpointed")
    table = tmp / "table"
    ddl = write_types_pipeline(tmp, {"table.path": table, "writer.id": "interop-cp", "checkpoint.interval": "2"},
                               rows=10_000, rate=10_000)
    code, log = run(laminar_connect, ddl, tmp / "cp", interval_ms=100)
    assert code == 0, log
    return tmp, table, reference_rows(tmp)


def checkpoint_files(table, version) -> list:
    single = log_dir(table) / f"{version:020d}.checkpoint.parquet"
    if single.exists():
        return [single]
    return sorted(log_dir(table).glob(f"{version:020d}.checkpoint.*.parquet"))


def test_checkpoint_every_two_commits(checkpointed_table):
    _, table, _ = checkpointed_table
    latest = commit_versions(table)[-1]
    assert latest >= 4, f"expected at least 5 commits, got {latest + 1}"
    last_path = log_dir(table) / "_last_checkpoint"
    assert last_path.exists(), "_last_checkpoint is missing"
    last = json.loads(last_path.read_text())
    assert isinstance(last["version"], int) and isinstance(last["size"], int)
    assert latest - last["version"] <= 1, f"newest checkpoint {last['version']} lags the log ({latest})"
    files = checkpoint_files(table, last["version"])
    assert files, f"_last_checkpoint names version {last['version']}, whose checkpoint file is missing"
    if len(files) > 1:
        assert last.get("parts") == len(files)
    rows = pa.concat_tables([pq.read_table(f) for f in files])
    assert rows.num_rows == last["size"], "_last_checkpoint.size is not the number of actions"
    for column in ("add", "metaData", "protocol", "txn"):
        assert column in rows.column_names, f"checkpoint has no {column} column"
    all_checkpoints = {int(p.name[:20]) for p in log_dir(table).glob("*.checkpoint*.parquet")}
    assert len(all_checkpoints) >= latest // 2 - 1, f"checkpoints at {sorted(all_checkpoints)} for {latest + 1} commits"


def test_checkpoint_holds_the_table_state(checkpointed_table):
    tmp, table, reference = checkpointed_table
    last = json.loads((log_dir(table) / "_last_checkpoint").read_text())
    at_checkpoint = delta_table(table, last["version"])
    rows = pa.concat_tables([pq.read_table(f) for f in checkpoint_files(table, last["version"])])
    adds = [a for a in rows.column("add").to_pylist() if a is not None]
    assert sorted(a["path"] for a in adds) == sorted(
        p["path"] for p in pa.table(at_checkpoint.get_add_actions(flatten=False)).to_pylist())
    txns = [t for t in rows.column("txn").to_pylist() if t is not None and t["appId"] == "interop-cp"]
    assert len(txns) == 1 and txns[0]["version"] == at_checkpoint.transaction_version("interop-cp")
    # A reader given only the checkpoint and the commits after it sees the same table.
    copy = truncated_log_copy(table, tmp, last["version"])
    loaded = delta_table(copy)
    assert loaded.version() == delta_table(table).version()
    assert loaded.transaction_version("interop-cp") == delta_table(table).transaction_version("interop-cp")
    assert_same_rows(delta_rows(copy), reference, "table read through its checkpoint")


# ---------------------------------------------------------------------------------------
# Sink: upsert (changelog input: trailing `_op` TINYINT, 0 +I, 1 -U, 2 +U, 3 -D).

UPSERT_DDL = """
CREATE SOURCE changes (id BIGINT NOT NULL, name VARCHAR, amount DOUBLE, _op TINYINT NOT NULL)
  FROM FILES (path = {input}, format = 'json');
CREATE SINK lake FROM changes INTO DELTA_LAKE (
  {delta}
);
"""


def changelog_file(directory: pathlib.Path, events) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "changes.jsonl", "w") as f:
        for op, id_, name, amount in events:
            f.write(json.dumps({"id": id_, "name": name, "amount": amount, "_op": op}) + "\n")


def upsert_run(binary, tmp, name, table, events, writer_id):
    changelog_file(tmp / f"{name}_in", events)
    ddl = tmp / f"{name}.sql"
    ddl.write_text(UPSERT_DDL.format(input=sql_string(tmp / f"{name}_in"), delta=delta_options(**{
        "table.path": table, "write.mode": "upsert", "merge.key.columns": "id", "writer.id": writer_id})))
    # One epoch: a long interval, and the bounded source's final checkpoint.
    return run(binary, ddl, tmp / f"{name}_cp", interval_ms=600_000)


def test_upsert_applies_a_changelog_in_one_commit_per_epoch(laminar_connect, delta_sink, tmp_path):
    table = tmp_path / "table"
    inserts = [(0, i, f"v{i}", float(i)) for i in range(1, 7)]
    code, log = upsert_run(laminar_connect, tmp_path, "first", table, inserts, "upsert-1")
    assert code == 0, log
    before = commit_versions(table)[-1]
    changes = [
        (1, 1, "v1", 1.0), (2, 1, "v1b", 10.0),      # -U/+U
        (2, 2, "v2b", 20.0),                         # +U alone
        (3, 3, "v3", 3.0),                           # delete
        (3, 4, "v4", 4.0), (0, 4, "v4new", 40.0),    # delete, then insert again: present
        (2, 5, "first", 50.0), (2, 5, "last", 51.0),  # one key twice in an epoch: last wins
        (0, 7, "v7", 7.0), (3, 7, "v7", 7.0),        # insert, then delete: absent
        (3, 99, "nope", 0.0),                        # delete of a key that is not there: no-op
        (0, 8, "v8", 8.0),
    ]
    code, log = upsert_run(laminar_connect, tmp_path, "second", table, changes, "upsert-2")
    assert code == 0, log
    after = commit_versions(table)[-1]
    assert after == before + 1, f"one epoch of changes made {after - before} commits"
    actions = read_commit(table, after)
    assert removes_of(actions) and adds_of(actions), "an upsert commit rewrites files: remove + add"
    assert len(txns_of(actions, "upsert-2")) == 1
    got = delta_rows(table)
    assert "_op" not in got.column_names, "the changelog column is not table data"
    expected = {1: ("v1b", 10.0), 2: ("v2b", 20.0), 4: ("v4new", 40.0), 5: ("last", 51.0), 6: ("v6", 6.0),
                8: ("v8", 8.0)}
    assert [(r["id"], r["name"], r["amount"]) for r in got.to_pylist()] == \
        [(k, *v) for k, v in sorted(expected.items())]
    for v in versions_of(table):
        assert_readers_agree(table, v)


# ---------------------------------------------------------------------------------------
# Sink: overwrite replaces only the partitions an epoch touches.

FILES_TO_DELTA_DDL = """
CREATE SOURCE rows_in (id BIGINT NOT NULL, region VARCHAR, amount DOUBLE)
  FROM FILES (path = {input}, format = 'json');
CREATE SINK lake FROM rows_in INTO DELTA_LAKE (
  {delta}
);
"""


def test_overwrite_replaces_only_the_touched_partitions(laminar_connect, delta_sink, tmp_path):
    table = tmp_path / "table"

    def load(name, rows, mode, writer_id):
        directory = tmp_path / f"{name}_in"
        directory.mkdir()
        (directory / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(FILES_TO_DELTA_DDL.format(input=sql_string(directory), delta=delta_options(**{
            "table.path": table, "write.mode": mode, "partition.columns": "region", "writer.id": writer_id})))
        return run(laminar_connect, ddl, tmp_path / f"{name}_cp", interval_ms=600_000)

    code, log = load("base", [{"id": 1, "region": "eu", "amount": 1.0}, {"id": 2, "region": "eu", "amount": 2.0},
                              {"id": 3, "region": "us", "amount": 3.0}, {"id": 4, "region": "us", "amount": 4.0}],
                     "append", "ow-base")
    assert code == 0, log
    code, log = load("replace", [{"id": 10, "region": "eu", "amount": 10.0},
                                 {"id": 11, "region": "eu", "amount": 11.0}], "overwrite", "ow-replace")
    assert code == 0, log
    got = delta_rows(table)
    assert [(r["id"], r["region"]) for r in got.to_pylist()] == [(3, "us"), (4, "us"), (10, "eu"), (11, "eu")]
    last = read_commit(table, commit_versions(table)[-1])
    assert all(r["partitionValues"] == {"region": "eu"} for r in removes_of(last)), "removed files outside eu"
    assert removes_of(last), "overwrite removed nothing"
    check_partition_layout(table, ["region"])
    for v in versions_of(table):
        assert_readers_agree(table, v)


# ---------------------------------------------------------------------------------------
# Sink: schema evolution.

EVOLVE_DDL = """
CREATE SOURCE gen (id BIGINT NOT NULL, name VARCHAR{extra}) FROM DATAGEN (
  'rows-per-second' = '0', 'number-of-rows' = '100', 'fields.id.kind' = 'sequence', 'fields.id.start' = '{start}',
  seed = '3');
CREATE SINK lake FROM gen INTO DELTA_LAKE (
  {delta}
);
"""


def test_schema_evolution_adds_nullable_columns_only_when_enabled(laminar_connect, delta_sink, tmp_path):
    table = tmp_path / "table"

    def load(name, extra, start, evolution):
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(EVOLVE_DDL.format(extra=extra, start=start, delta=delta_options(**{
            "table.path": table, "writer.id": f"evolve-{name}", "schema.evolution": evolution})))
        return run(laminar_connect, ddl, tmp_path / f"{name}_cp")

    code, log = load("base", "", 0, "false")
    assert code == 0, log
    code, log = load("wider", ", extra DOUBLE", 100, "true")
    assert code == 0, log
    last = read_commit(table, commit_versions(table)[-1])
    assert any("metaData" in a for a in last) and adds_of(last), "new column and its data belong in one commit"
    fields = [(f["name"], f["type"], f["nullable"]) for f in table_schema_from_log(table)["fields"]]
    assert fields == [("id", "long", False), ("name", "string", True), ("extra", "double", True)]
    got = delta_rows(table)
    assert got.num_rows == 200
    extra = got.column("extra").to_pylist()
    assert all(x is None for x in extra[:100]) and any(x is not None for x in extra[100:])
    for v in versions_of(table):
        assert_readers_agree(table, v)
    versions = commit_versions(table)
    code, log = load("refused", ", extra DOUBLE, other INT", 200, "false")
    assert code != 0, "a new column without schema.evolution must be refused"
    assert "other" in log, f"the error should name the new column:\n{log}"
    assert commit_versions(table) == versions, "a refused batch must not commit"


# ---------------------------------------------------------------------------------------
# Sink: cloud storage on the emulators (S3: moto, Azure: Azurite, GCS: fake-gcs-server).

CLOUD = {
    "s3": ("s3_server", lambda e: e.new_bucket(), "s3://{bucket}/lake/t"),
    "azure": ("azurite", lambda e: e.new_container(), "az://{bucket}/lake/t"),
    "gcs": ("gcs_server", lambda e: e.new_bucket(), "gs://{bucket}/lake/t"),
}


@pytest.mark.parametrize("provider", sorted(CLOUD))
def test_sink_writes_to_cloud_storage(laminar_connect, delta_sink, provider, request, tmp_path):
    fixture, make_bucket, template = CLOUD[provider]
    endpoint = request.getfixturevalue(fixture)  # started only once the sink exists
    bucket = make_bucket(endpoint)
    uri = template.format(bucket=bucket)
    # Commits are put-if-absent on each store (no allow_unsafe flag); concurrent writers
    # are the next test's business.
    ddl = write_types_pipeline(tmp_path, {"table.path": uri, "writer.id": f"cloud-{provider}",
                                          "checkpoint.interval": "2",
                                          **storage_option_entries(endpoint.storage_options())},
                               rows=8000, rate=10_000)
    code, log = run(laminar_connect, ddl, tmp_path / "cp", interval_ms=100)
    assert code == 0, log
    local = copy_tree(endpoint.filesystem(), f"{bucket}/lake/t", tmp_path / "copy")
    check_commit_structure(local, f"cloud-{provider}")
    assert commit_versions(local)[-1] >= 2, "expected several epochs"
    assert (log_dir(local) / "_last_checkpoint").exists(), "no log checkpoint on object storage"
    for v in versions_of(local):
        assert_readers_agree(local, v)
    assert_same_rows(delta_rows(local), reference_rows(tmp_path), f"{provider} table vs the files sink")
    if provider != "gcs":  # delta-rs reads S3 and Azure itself (log only: see service_fixtures.py)
        assert DeltaTable(uri, storage_options=endpoint.deltalake_options()).version() == delta_table(local).version()


def azurite_account_sas(endpoint) -> str:
    """An account SAS (blob service, version 2019-12-12) for Azurite, signed by hand from
    the documented string to sign: the key itself never reaches the sink."""
    import base64
    import datetime
    import hashlib
    import hmac
    import urllib.parse
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    fields = {"sv": "2019-12-12", "ss": "b", "srt": "sco", "sp": "rwdlac", "se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "spr": "https,http"}
    to_sign = "\n".join([endpoint.account, fields["sp"], fields["ss"], fields["srt"], "", fields["se"], "",
                         fields["spr"], fields["sv"], ""])
    sig = base64.b64encode(hmac.new(base64.b64decode(endpoint.key), to_sign.encode(), hashlib.sha256).digest())
    return urllib.parse.urlencode({**fields, "sig": sig.decode()})


def test_azure_commits_with_a_sas_token(laminar_connect, delta_sink, azurite, tmp_path):
    container = azurite.new_container()
    options = {k: v for k, v in azurite.storage_options().items() if k != "azure_storage_account_key"}
    options["azure_storage_sas_token"] = azurite_account_sas(azurite)
    ddl = write_types_pipeline(tmp_path, {"table.path": f"az://{container}/lake/t", "writer.id": "azure-sas",
                                          **storage_option_entries(options)}, rows=4000, rate=10_000)
    code, log = run(laminar_connect, ddl, tmp_path / "cp", interval_ms=100)
    assert code == 0, log
    assert "sig=" not in log, "the SAS token leaked into the log"
    local = copy_tree(azurite.filesystem(), f"{container}/lake/t", tmp_path / "copy")
    check_commit_structure(local, "azure-sas")
    assert commit_versions(local)[-1] >= 2, "expected several epochs"
    assert_same_rows(delta_rows(local), reference_rows(tmp_path), "azure table vs the files sink")


class TokenEndpoint:
    """A local OAuth2 token endpoint for a generated service account key: checks each
    JWT-bearer grant's RS256 signature, issuer, audience and expiry, and records its scope.
    Nothing leaves the loopback (the key's token_uri points here)."""

    ACCOUNT = "laminar-test@laminar-test.iam.gserviceaccount.com"

    def __init__(self):
        import http.server
        import threading
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.grants = []  # (valid, scope) per token request
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                import urllib.parse
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = urllib.parse.parse_qs(body)
                valid, scope = endpoint.check(form)
                endpoint.grants.append((valid, scope))
                answer = {"access_token": "test-token", "expires_in": 3600, "token_type": "Bearer"} if valid \
                    else {"error": "invalid_grant", "error_description": "bad JWT"}
                data = json.dumps(answer).encode()
                self.send_response(200 if valid else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.token_uri = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        pem = self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.key_json = json.dumps({"type": "service_account", "project_id": "laminar-test", "private_key_id": "k1",
                                    "private_key": pem, "client_email": self.ACCOUNT, "token_uri": self.token_uri})

    def check(self, form):
        import base64
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def unpad(part):
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        try:
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            header, claims, signature = form["assertion"][0].split(".")
            self.private_key.public_key().verify(unpad(signature), f"{header}.{claims}".encode(),
                                                 padding.PKCS1v15(), hashes.SHA256())
            assert json.loads(unpad(header))["alg"] == "RS256"
            c = json.loads(unpad(claims))
            assert c["iss"] == self.ACCOUNT and c["aud"] == self.token_uri and c["exp"] > time.time()
            return True, c.get("scope", "")
        except Exception:  # noqa: BLE001  (any malformed grant is refused)
            return False, ""

    def close(self):
        self.server.shutdown()


def test_gcs_commits_with_a_service_account_token(laminar_connect, delta_sink, gcs_server, tmp_path):
    # The conditional upload cannot use Arrow's GCS credentials: the sink gets its own token
    # for the service account (JWT signed RS256, exchanged at token_uri). fake-gcs-server
    # does not check tokens, so the endpoint above is where the flow is judged.
    tokens = TokenEndpoint()
    try:
        key_path = tmp_path / "service-account.json"
        key_path.write_text(tokens.key_json)
        bucket = gcs_server.new_bucket()
        ddl = write_types_pipeline(tmp_path, {"table.path": f"gs://{bucket}/lake/t", "writer.id": "gcs-sa",
                                              "storage.google_endpoint": gcs_server.endpoint_url,
                                              "storage.google_service_account_path": str(key_path)},
                                   rows=4000, rate=10_000)
        code, log = run(laminar_connect, ddl, tmp_path / "cp", interval_ms=100)
        assert code == 0, log
    finally:
        tokens.close()
    local = copy_tree(gcs_server.filesystem(), f"{bucket}/lake/t", tmp_path / "copy")
    check_commit_structure(local, "gcs-sa")
    assert commit_versions(local)[-1] >= 2, "expected several epochs"
    assert_same_rows(delta_rows(local), reference_rows(tmp_path), "gcs table vs the files sink")
    assert all(valid for valid, _ in tokens.grants), f"a token request carried a bad JWT: {tokens.grants}"
    ours = [scope for _, scope in tokens.grants if scope == "https://www.googleapis.com/auth/devstorage.read_write"]
    # One token for every commit of the run: it is cached until shortly before it expires.
    assert len(ours) == 1, f"expected one read_write token request, got {tokens.grants}"


CONCURRENT_DDL = """
CREATE SOURCE gen (id BIGINT NOT NULL, name VARCHAR) FROM DATAGEN (
  'rows-per-second' = '2000', 'number-of-rows' = '4000', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '{start}', seed = '5');
CREATE SINK lake FROM gen INTO DELTA_LAKE (
  {delta}
);
"""


def writer_runs(table, writer_ids) -> list:
    """The writer of each data commit in version order, consecutive repeats merged:
    [1, 2, 1] means writer 1 committed, then 2, then 1 again."""
    runs = []
    for v in commit_versions(table):
        owners = [t["appId"] for t in txns_of(read_commit(table, v)) if t["appId"] in writer_ids]
        if owners and (not runs or runs[-1] != owners[0]):
            runs.append(owners[0])
    return runs


# No allow_unsafe flag here: with two writers a commit must be put-if-absent (S3 and GCS
# answer 412, Azure 409 BlobAlreadyExists to a taken name; see test_storage_emulators.py).
@pytest.mark.parametrize("where", ["local", "s3", "azure", "gcs"])
def test_two_writers_commit_concurrently_without_losing_a_version(laminar_connect, delta_sink, where, request,
                                                                  tmp_path):
    extra = {}
    endpoint = None
    if where == "local":
        uri = str(tmp_path / "shared")
    else:
        fixture, make_bucket, template = CLOUD[where]
        endpoint = request.getfixturevalue(fixture)
        bucket = make_bucket(endpoint)
        uri = template.format(bucket=bucket).replace("/lake/t", "/shared")
        extra = storage_option_entries(endpoint.storage_options())
    writers = []
    for n, start in ((1, 0), (2, 1_000_000)):
        ddl = tmp_path / f"w{n}.sql"
        ddl.write_text(CONCURRENT_DDL.format(start=start, delta=delta_options(**{
            "table.path": uri, "writer.id": f"writer-{n}", **extra})))
        writers.append(Running(laminar_connect, ddl, tmp_path / f"cp{n}", interval_ms=50))
    for w in writers:
        wait_until(lambda: not w.alive(), 120, "the writer to finish")
        code, log = w.stop()
        assert code == 0, log
    local = copy_tree(endpoint.filesystem(), f"{bucket}/shared", tmp_path / "copy") if endpoint else pathlib.Path(uri)
    for n in (1, 2):
        check_commit_structure(local, f"writer-{n}")
    ids = delta_rows(local).column("id").to_pylist()
    assert ids == list(range(4000)) + list(range(1_000_000, 1_004_000)), "rows lost or duplicated"
    commits_with_txn = [v for v in commit_versions(local) if txns_of(read_commit(local, v))]
    assert len(commits_with_txn) >= 4
    # The race must really have happened: an append commit goes to the version after the
    # writer's own last one and reads the others' commits only once it finds that version
    # taken. So a writer that commits again after the other writer did (runs [1, 2, 1])
    # lost at least one put-if-absent race and took the next free version.
    runs = writer_runs(local, {"writer-1", "writer-2"})
    assert len(runs) >= 3, f"the writers did not interleave, so no commit conflict was tested: {runs}"


# ---------------------------------------------------------------------------------------
# Source: tables delta-rs writes, read by laminar-connect's delta-lake source.

SOURCE_DDL = """
CREATE SOURCE lake FROM DELTA_LAKE (
  {delta}
);
CREATE SINK out FROM lake INTO FILES (path = {out}, format = 'parquet');
"""


def source_pipeline(tmp: pathlib.Path, table, name="source", **options) -> pathlib.Path:
    ddl = tmp / f"{name}.sql"
    ddl.write_text(SOURCE_DDL.format(delta=delta_options(**{"table.path": table, **options}),
                                     out=sql_string(tmp / f"{name}_out")))
    return ddl


def output_rows(tmp: pathlib.Path, name="source") -> pa.Table:
    out = tmp / f"{name}_out"
    if not out.exists() or not any(p for p in out.iterdir() if not p.name.startswith(("_", "."))):
        return pa.table({})
    return ds.dataset(str(out), format="parquet").to_table()


def read_through_source(binary, tmp, table, expected_rows, name="source", **options):
    """Runs the source until the output holds `expected_rows` rows (it follows the table,
    so it never ends by itself), then SIGINT. Returns the output, sorted by id."""
    pipeline = Running(binary, source_pipeline(tmp, table, name, **options), tmp / f"{name}_cp", interval_ms=100)
    try:
        wait_until(lambda: output_rows(tmp, name).num_rows >= expected_rows, 60,
                   f"{expected_rows} rows from the delta-lake source", alive=pipeline.alive)
        time.sleep(0.5)  # anything beyond the expected rows would be a duplicate: let it show
    finally:
        code, log = pipeline.stop()
    assert code == 0, log
    return output_rows(tmp, name).sort_by("id")


def assert_source_matches_delta_rs(got: pa.Table, table, what):
    want = delta_rows(table)
    assert got.num_rows == want.num_rows, f"{what}: {got.num_rows} rows, delta-rs has {want.num_rows}"
    assert sorted(got.column_names) == sorted(want.column_names), what
    assert_same_rows(got.select(want.column_names), want, what)


def rs_batch(ids, extra=False, region=False):
    columns = {"id": pa.array(ids, pa.int64()), "name": [f"n{i}" if i % 5 else None for i in ids],
               "amount": [i * 0.5 for i in ids], "day": pa.array([i % 365 for i in ids], pa.int32()).cast(pa.date32()),
               "at": pa.array([i * 1_000_000 for i in ids], pa.timestamp("us", tz="UTC"))}
    if region:
        columns["region"] = [["eu", "us"][i % 2] for i in ids]
    if extra:
        columns["extra"] = [float(i) for i in ids]
    return pa.table(columns)


def test_source_reads_appends_and_follows_new_versions(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    write_deltalake(str(table), rs_batch(range(100, 150)), mode="append")
    write_deltalake(str(table), rs_batch(range(150, 200)), mode="append")
    pipeline = Running(laminar_connect, source_pipeline(tmp_path, table), tmp_path / "source_cp", interval_ms=100)
    try:
        wait_until(lambda: output_rows(tmp_path).num_rows >= 200, 60, "the snapshot", alive=pipeline.alive)
        write_deltalake(str(table), rs_batch(range(200, 230)), mode="append")
        wait_until(lambda: output_rows(tmp_path).num_rows >= 230, 60, "the new version", alive=pipeline.alive)
        time.sleep(0.5)
    finally:
        code, log = pipeline.stop()
    assert code == 0, log
    assert_source_matches_delta_rs(output_rows(tmp_path).sort_by("id"), table, "snapshot + one new version")
    # Restart from the checkpoint: only what is new arrives.
    write_deltalake(str(table), rs_batch(range(230, 250)), mode="append")
    got = read_through_source(laminar_connect, tmp_path, table, 250)
    ids = got.column("id").to_pylist()
    assert ids == list(range(250)), "rows lost or duplicated across the restart"
    assert_source_matches_delta_rs(got, table, "after a restart")


def test_source_reads_an_overwritten_table(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    write_deltalake(str(table), rs_batch(range(1000, 1040)), mode="overwrite")
    write_deltalake(str(table), rs_batch(range(1040, 1050)), mode="append")
    got = read_through_source(laminar_connect, tmp_path, table, 50)
    assert_source_matches_delta_rs(got, table, "overwritten table")


def test_source_reads_an_evolved_schema(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    write_deltalake(str(table), rs_batch(range(100, 160), extra=True), mode="append", schema_mode="merge")
    got = read_through_source(laminar_connect, tmp_path, table, 160)
    assert "extra" in got.column_names
    assert_source_matches_delta_rs(got, table, "table with a merged schema")


def test_source_reads_a_table_through_its_checkpoint(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    for n in range(12):
        write_deltalake(str(table), rs_batch(range(n * 10, n * 10 + 10)), mode="append")
    DeltaTable(str(table)).create_checkpoint()
    write_deltalake(str(table), rs_batch(range(120, 130)), mode="append")
    last = json.loads((log_dir(table) / "_last_checkpoint").read_text())
    copy = truncated_log_copy(table, tmp_path, last["version"])  # only the checkpoint knows versions <= 11
    got = read_through_source(laminar_connect, tmp_path, copy, 130)
    assert_source_matches_delta_rs(got, copy, "table read from its checkpoint")


def test_source_reads_a_partitioned_table(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100), region=True), partition_by=["region"])
    write_deltalake(str(table), rs_batch(range(100, 140), region=True), mode="append")
    got = read_through_source(laminar_connect, tmp_path, table, 140)
    assert got.column("region").to_pylist() == [["eu", "us"][i % 2] for i in range(140)]
    assert_source_matches_delta_rs(got, table, "partitioned table")


# ---------------------------------------------------------------------------------------
# The source FOLLOWING a table (started before) while delta-rs changes it.

def row_multiset(table: pa.Table, columns) -> dict:
    """{row tuple: count} over `columns` (timestamps as integers, see comparable())."""
    values = [comparable(table.column(c)) for c in columns]
    counts = {}
    for row in zip(*values):
        counts[row] = counts.get(row, 0) + 1
    return counts


def follow(binary, tmp, table, ddl=None, name="source", **options) -> Running:
    ddl_path = source_pipeline(tmp, table, name, **{"poll.interval.ms": "100", **options})
    if ddl is not None:
        ddl_path.write_text(ddl)
    return Running(binary, ddl_path, tmp / f"{name}_cp", interval_ms=100)


def wait_for_rows(pipeline, tmp, rows, what, name="source"):
    wait_until(lambda: output_rows(tmp, name).num_rows >= rows, 60, what, alive=pipeline.alive)


def wait_for_exit(pipeline, what) -> str:
    wait_until(lambda: not pipeline.alive(), 60, what)
    code, log = pipeline.stop()
    assert code != 0, f"{what}: the pipeline exited cleanly:\n{log}"
    return log


def test_source_following_an_overwrite_emits_its_deletes_and_inserts_in_changelog_mode(
        laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    write_deltalake(str(table), rs_batch(range(100, 150)), mode="append")
    before = delta_rows(table)
    pipeline = follow(laminar_connect, tmp_path, table, **{"read.mode": "changelog"})
    try:
        wait_for_rows(pipeline, tmp_path, 150, "the snapshot")
        write_deltalake(str(table), rs_batch(range(1000, 1040)), mode="overwrite")
        wait_for_rows(pipeline, tmp_path, 150 + 150 + 40, "the overwrite's deletes and inserts")
        time.sleep(0.5)
    finally:
        code, log = pipeline.stop()
    assert code == 0, log
    got = output_rows(tmp_path)
    columns = before.column_names
    ops = got.column("_op").to_pylist()
    deletes = got.filter(pa.array([op == 3 for op in ops]))
    inserts = got.filter(pa.array([op == 0 for op in ops]))
    assert deletes.num_rows + inserts.num_rows == got.num_rows, f"unexpected _op values {set(ops)}"
    assert row_multiset(deletes, columns) == row_multiset(before, columns), "deletes are the overwritten rows"
    net = row_multiset(inserts, columns)
    for row, n in row_multiset(deletes, columns).items():
        net[row] -= n
    net = {row: n for row, n in net.items() if n}
    assert net == row_multiset(delta_rows(table), columns), "inserts - deletes = the table delta-rs reads"


def test_source_following_an_overwrite_in_append_mode_fails_naming_it_or_skips_the_removes(
        laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    strict = follow(laminar_connect, tmp_path, table, name="strict")
    skipping = follow(laminar_connect, tmp_path, table, name="skipping", **{"ignore.removes": "true"})
    try:
        wait_for_rows(strict, tmp_path, 100, "the strict snapshot", name="strict")
        wait_for_rows(skipping, tmp_path, 100, "the skipping snapshot", name="skipping")
        write_deltalake(str(table), rs_batch(range(1000, 1040)), mode="overwrite")
        write_deltalake(str(table), rs_batch(range(1040, 1050)), mode="append")
        log = wait_for_exit(strict, "the append-mode source meeting the overwrite")
        assert "version 1" in log and "removes file" in log and "ignore.removes" in log, log
        wait_for_rows(skipping, tmp_path, 150, "the rows after the overwrite", name="skipping")
        time.sleep(0.5)
    finally:
        strict.stop()
        code, log = skipping.stop()
    assert code == 0, log
    assert output_rows(tmp_path, "strict").num_rows == 100, "nothing of the overwrite before the error"
    got = output_rows(tmp_path, "skipping").sort_by("id")
    assert got.column("id").to_pylist() == list(range(100)) + list(range(1000, 1050))
    assert_source_matches_delta_rs(got.filter(pc.greater_equal(got.column("id"), 1000)), table,
                                   "rows added by the overwrite and after it")


FOLLOW_DECLARED_DDL = """
CREATE SOURCE lake (id BIGINT, name VARCHAR, amount DOUBLE, day DATE, at TIMESTAMP(6) WITH TIME ZONE)
FROM DELTA_LAKE (
  {delta}
);
CREATE SINK out FROM lake INTO FILES (path = {out}, format = 'parquet');
"""


def test_source_following_a_schema_merge(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 100)))
    declared_ddl = FOLLOW_DECLARED_DDL.format(
        delta=delta_options(**{"table.path": table, "poll.interval.ms": "100"}), out=sql_string(tmp_path / "declared_out"))
    declared = follow(laminar_connect, tmp_path, table, ddl=declared_ddl, name="declared")
    undeclared = follow(laminar_connect, tmp_path, table, name="undeclared")
    try:
        wait_for_rows(declared, tmp_path, 100, "the declared snapshot", name="declared")
        wait_for_rows(undeclared, tmp_path, 100, "the undeclared snapshot", name="undeclared")
        write_deltalake(str(table), rs_batch(range(100, 160), extra=True), mode="append", schema_mode="merge")
        write_deltalake(str(table), rs_batch(range(160, 170), extra=True), mode="append")
        # The table's own schema: the new column would be lost, so the source stops naming it.
        log = wait_for_exit(undeclared, "the source whose schema lacks the new column")
        assert "adds column 'extra'" in log, log
        # Declared columns: a projection, read on across the change.
        wait_for_rows(declared, tmp_path, 170, "the rows after the merge", name="declared")
        time.sleep(0.5)
    finally:
        undeclared.stop()
        code, log = declared.stop()
    assert code == 0, log
    got = output_rows(tmp_path, "declared").sort_by("id")
    want = delta_rows(table)
    assert got.column_names == ["id", "name", "amount", "day", "at"]
    assert_same_rows(got, want.select(got.column_names), "declared columns across a schema merge")
    assert output_rows(tmp_path, "undeclared").num_rows == 100, "nothing of the merged version before the error"
    # Restarted from its checkpoint it opens with the new schema and reads on.
    restarted = follow(laminar_connect, tmp_path, table, name="undeclared")
    try:
        def new_rows():
            """The output files written with the new column (the older ones lack it)."""
            tables = []
            for p in (tmp_path / "undeclared_out").glob("*.parquet"):
                try:
                    table = pq.read_table(p)
                except pa.ArrowInvalid:  # still being written
                    continue
                if "extra" in table.column_names:
                    tables.append(table)
            return tables
        wait_until(lambda: sum(t.num_rows for t in new_rows()) >= 70, 60, "the merged rows after a restart",
                   alive=restarted.alive)
        time.sleep(0.5)
    finally:
        code, log = restarted.stop()
    assert code == 0, log
    after = pa.concat_tables(new_rows()).sort_by("id")
    assert_same_rows(after, want.filter(pc.greater_equal(want.column("id"), 100)), "rows with the new column")


def test_source_follows_across_checkpoints_delta_rs_writes(laminar_connect, delta_source, tmp_path):
    table = tmp_path / "t"
    write_deltalake(str(table), rs_batch(range(0, 10)), configuration={"delta.checkpointInterval": "2"})
    pipeline = follow(laminar_connect, tmp_path, table)
    try:
        wait_for_rows(pipeline, tmp_path, 10, "the snapshot")
        for n in range(1, 8):
            write_deltalake(str(table), rs_batch(range(n * 10, n * 10 + 10)), mode="append")
        DeltaTable(str(table)).create_checkpoint()
        wait_for_rows(pipeline, tmp_path, 80, "the versions around the checkpoints")
        time.sleep(0.5)
    finally:
        code, log = pipeline.stop()
    assert code == 0, log
    checkpoints = sorted(p.name for p in log_dir(table).glob("*.checkpoint.parquet"))
    assert len(checkpoints) >= 2, f"delta-rs wrote no checkpoints every 2 versions: {checkpoints}"
    got = output_rows(tmp_path).sort_by("id")
    assert got.column("id").to_pylist() == list(range(80))
    assert_source_matches_delta_rs(got, table, "followed across checkpoints")
    # The commits the newest checkpoint stands for go (as log cleanup would remove them); a
    # restart opens the table from that checkpoint and reads on from its position.
    last = json.loads((log_dir(table) / "_last_checkpoint").read_text())["version"]
    write_deltalake(str(table), rs_batch(range(80, 90)), mode="append")
    for version in range(0, last):
        (log_dir(table) / f"{version:020d}.json").unlink()
    got = read_through_source(laminar_connect, tmp_path, table, 90, **{"poll.interval.ms": "100"})
    assert got.column("id").to_pylist() == list(range(90)), "rows lost or duplicated across the restart"
    assert_source_matches_delta_rs(got, table, "after a restart from the checkpoint")
