"""The files sink's output, judged by the reference readers: pyarrow and duckdb must read
what laminar-connect wrote with the declared schema, and the Parquet and JSON-lines sinks
of one source must hold the same rows."""
import json
import pathlib
import subprocess
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

ROWS = 5000

ALL_TYPES_DDL = """
-- every type of the DDL type table
CREATE SOURCE everything (
  id BIGINT NOT NULL,
  flag BOOLEAN,
  tiny TINYINT,
  small SMALLINT,
  regular INT NOT NULL,
  utiny TINYINT UNSIGNED,
  usmall SMALLINT UNSIGNED,
  uint INT UNSIGNED,
  ubig BIGINT UNSIGNED,
  real_value REAL,
  double_value DOUBLE,
  price DECIMAL(12, 4),
  name VARCHAR,
  payload BYTEA,
  day DATE,
  clock TIME,
  ts_s TIMESTAMP(0),
  ts_ms TIMESTAMP(3),
  ts_us TIMESTAMP,
  ts_ns TIMESTAMP(9) WITH TIME ZONE,
  doc JSON,
  numbers INT[],
  labels ARRAY<VARCHAR>,
  point STRUCT<x DOUBLE, y DOUBLE NOT NULL, label VARCHAR>
) FROM DATAGEN (
  'rows-per-second' = '0',
  'number-of-rows' = '{rows}',
  'fields.id.kind' = 'sequence',
  'fields.name.null-rate' = '0.25',
  'fields.price.min' = '-1000',
  'fields.price.max' = '1000',
  seed = '99'
);
CREATE SINK as_parquet FROM everything INTO FILES (path = '{parquet}');
CREATE SINK as_json FROM everything INTO FILES (path = '{json}', format = 'json');
"""

EXPECTED_SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("flag", pa.bool_()),
    pa.field("tiny", pa.int8()),
    pa.field("small", pa.int16()),
    pa.field("regular", pa.int32(), nullable=False),
    pa.field("utiny", pa.uint8()),
    pa.field("usmall", pa.uint16()),
    pa.field("uint", pa.uint32()),
    pa.field("ubig", pa.uint64()),
    pa.field("real_value", pa.float32()),
    pa.field("double_value", pa.float64()),
    pa.field("price", pa.decimal128(12, 4)),
    pa.field("name", pa.string()),
    pa.field("payload", pa.binary()),
    pa.field("day", pa.date32()),
    pa.field("clock", pa.time64("us")),
    pa.field("ts_s", pa.timestamp("ms")),  # Parquet has no seconds unit: same instants, in ms
    pa.field("ts_ms", pa.timestamp("ms")),
    pa.field("ts_us", pa.timestamp("us")),
    pa.field("ts_ns", pa.timestamp("ns", tz="UTC")),
    pa.field("doc", pa.string()),
    pa.field("numbers", pa.list_(pa.int32())),
    pa.field("labels", pa.list_(pa.string())),
    pa.field("point", pa.struct([pa.field("x", pa.float64()), pa.field("y", pa.float64(), nullable=False),
                                 pa.field("label", pa.string())])),
])


@pytest.fixture(scope="module")
def written(laminar_connect, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interop")
    parquet, json_dir = tmp / "parquet", tmp / "json"
    ddl = tmp / "everything.sql"
    ddl.write_text(ALL_TYPES_DDL.format(rows=ROWS, parquet=parquet, json=json_dir))
    result = subprocess.run([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp / "cp"),
                             "--checkpoint-interval", "50", "--no-status"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return parquet, json_dir


def visible_files(path: pathlib.Path):
    return sorted(f for f in path.iterdir() if not f.name.startswith(("_", ".")))


def test_pyarrow_reads_the_declared_schema(written):
    parquet, _ = written
    table = ds.dataset(str(parquet), format="parquet").to_table()
    assert table.num_rows == ROWS
    for expected in EXPECTED_SCHEMA:
        actual = table.schema.field(expected.name)
        assert actual.type == expected.type, expected.name
        assert actual.nullable == expected.nullable, expected.name
    assert sorted(table.column("id").to_pylist()) == list(range(ROWS))
    names = table.column("name")
    assert 0.15 * ROWS < names.null_count < 0.35 * ROWS
    assert all(Decimal(-1000) <= p <= Decimal(1000) for p in table.column("price").to_pylist() if p is not None)
    for doc in table.column("doc").to_pylist():
        if doc is not None:
            json.loads(doc)


def test_duckdb_reads_the_same_rows(written):
    parquet, _ = written
    table = ds.dataset(str(parquet), format="parquet").to_table().sort_by("id")
    con = duckdb.connect()
    glob = str(parquet / "*.parquet")
    count, id_sum, distinct = con.execute(
        f"select count(*), sum(id), count(distinct id) from read_parquet('{glob}')").fetchone()
    assert (count, id_sum, distinct) == (ROWS, ROWS * (ROWS - 1) // 2, ROWS)
    from_duckdb = con.execute(
        f"select id, regular, ubig, double_value, name, price, day, ts_ms, numbers "
        f"from read_parquet('{glob}') order by id").to_arrow_table()
    for column in ["id", "regular", "ubig", "double_value", "name", "price", "day", "numbers"]:
        assert from_duckdb.column(column).to_pylist() == table.column(column).to_pylist(), column
    assert [t.replace(tzinfo=None) if t else t for t in from_duckdb.column("ts_ms").to_pylist()] == \
        table.column("ts_ms").to_pylist()


def test_parquet_and_json_sinks_of_one_source_agree(written):
    parquet, json_dir = written
    table = ds.dataset(str(parquet), format="parquet").to_table().sort_by("id")
    rows = []
    for f in visible_files(json_dir):
        rows += [json.loads(line) for line in f.read_text().splitlines()]
    rows.sort(key=lambda r: r["id"])
    assert len(rows) == ROWS
    expected = table.drop_columns(["ts_ns"]).to_pylist()  # ns instants do not fit datetime
    json_ns = pa.array([r["ts_ns"].rstrip("Z") if r["ts_ns"] else None for r in rows]).cast(pa.timestamp("ns"))
    assert json_ns.cast(pa.int64()).to_pylist() == table.column("ts_ns").cast(pa.int64()).to_pylist()
    for got, want in zip(rows, expected):
        for column in ["id", "flag", "tiny", "regular", "ubig", "name", "numbers", "labels"]:
            assert got[column] == want[column], (column, got["id"])
        assert got["double_value"] == pytest.approx(want["double_value"]) if want["double_value"] is not None \
            else got["double_value"] is None
        assert (Decimal(got["price"]) if got["price"] is not None else None) == want["price"]
        assert got["day"] == (want["day"].isoformat() if want["day"] else None)
        assert got["point"]["y"] == pytest.approx(want["point"]["y"])
        if want["doc"] is not None:
            assert got["doc"] == json.loads(want["doc"])  # JSON columns are embedded, not quoted


def test_committed_files_only(written):
    parquet, json_dir = written
    for path in (parquet, json_dir):
        names = [f.name for f in visible_files(path)]
        assert names, path
        assert all(n.startswith("part-") for n in names)
        staging = path / "_staging"
        assert not staging.exists() or not any(staging.iterdir())
