"""Byte-for-byte interop of our Avro codec with fastavro, both ways.

For every case of the corpus (every Avro type and logical type, nested records, unions,
enums, fixed, maps, arrays, decimals, defaults and resolution):
  - our encoder's bytes == fastavro.schemaless_writer's bytes;
  - our decoder reads fastavro's bytes to the values fastavro was given;
  - fastavro.reader reads our object container files (every codec), and we read
    fastavro's (every codec), to the same values.
Rows travel to and from `avro_tool` as Arrow IPC files (see avro_tool.cc).
"""
import datetime as dt
import io
import json
import struct
import subprocess
import uuid
from decimal import Decimal

import fastavro
import pyarrow as pa
import pyarrow.ipc
import pytest

UTC = dt.timezone.utc
CODECS = ["null", "deflate", "snappy", "zstandard"]


def rec(name, *fields):
    return {"type": "record", "name": name, "fields": list(fields)}


def f(name, type_, **extra):
    return {"name": name, "type": type_, **extra}


def duration(months, days, millis):
    return struct.pack("<III", months, days, millis)


# (id, schema, rows). Rows are what fastavro writes; `to_arrow` turns a row into what
# pyarrow builds the same column from, where the two differ.
CASES = [
    ("primitives", rec("P", f("n", "null"), f("b", "boolean"), f("i", "int"), f("l", "long"), f("fl", "float"),
                       f("d", "double"), f("by", "bytes"), f("s", "string")),
     [{"n": None, "b": True, "i": 0, "l": 0, "fl": 0.0, "d": 0.0, "by": b"", "s": ""},
      {"n": None, "b": False, "i": -2**31, "l": -2**63, "fl": 1.5, "d": -1e300, "by": b"\x00\xff", "s": "h\u00e9llo \u2603"},
      {"n": None, "b": True, "i": 2**31 - 1, "l": 2**63 - 1, "fl": -3.25, "d": float("inf"), "by": b"x" * 300,
       "s": "long " * 100}]),
    ("object-form primitives", rec("O", f("a", {"type": "int"}), f("b", {"type": "string"})),
     [{"a": 64, "b": "x"}, {"a": -65, "b": ""}]),
    ("nullable", rec("N", f("a", ["null", "long"]), f("b", ["string", "null"]), f("c", ["null", "double"])),
     [{"a": None, "b": "x", "c": None}, {"a": 5, "b": None, "c": 2.5}]),
    ("arrays and maps", rec("AM", f("ints", {"type": "array", "items": "int"}),
                            f("strs", {"type": "array", "items": ["null", "string"]}),
                            f("m", {"type": "map", "values": "long"}),
                            f("mm", {"type": "map", "values": {"type": "array", "items": "boolean"}}),
                            f("nested", {"type": "array", "items": {"type": "array", "items": "int"}})),
     [{"ints": [], "strs": [], "m": {}, "mm": {}, "nested": []},
      {"ints": [1, -1, 2**31 - 1], "strs": ["a", None, "c"], "m": {"x": 1, "y": -2}, "mm": {"k": [True, False]},
       "nested": [[1], [], [2, 3]]}]),
    ("nested records", rec("Outer", f("id", "long"),
                           f("inner", rec("Inner", f("x", "int"), f("tags", {"type": "array", "items": "string"}))),
                           f("maybe", ["null", "Inner"]),
                           f("many", {"type": "array", "items": "Inner"})),
     [{"id": 1, "inner": {"x": 1, "tags": ["a"]}, "maybe": None, "many": []},
      {"id": 2, "inner": {"x": -1, "tags": []}, "maybe": {"x": 7, "tags": ["q", "r"]},
       "many": [{"x": 3, "tags": []}, {"x": 4, "tags": ["z"]}]}]),
    ("enums and fixed", rec("EF", f("e", {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}),
                            f("oe", ["null", "Color"]),
                            f("fx", {"type": "fixed", "name": "Four", "size": 4}),
                            f("ofx", ["null", "Four"])),
     [{"e": "RED", "oe": None, "fx": b"abcd", "ofx": None}, {"e": "BLUE", "oe": "GREEN", "fx": b"\x00\x01\x02\xff", "ofx": b"zzzz"}]),
    ("namespaces", {"type": "record", "name": "R", "namespace": "com.acme", "fields": [
        f("a", {"type": "record", "name": "A", "namespace": "other", "fields": [f("v", "int")]}),
        f("b", "other.A"),
        f("c", {"type": "enum", "name": "E", "symbols": ["X", "Y"]}),
        f("d", "com.acme.E")]},
     [{"a": {"v": 1}, "b": {"v": 2}, "c": "Y", "d": "X"}]),
    ("decimals", rec("D", f("b", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}),
                     f("fx", {"type": "fixed", "name": "F9", "size": 9, "logicalType": "decimal", "precision": 20,
                              "scale": 4}),
                     f("big", {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 0}),
                     f("ob", ["null", {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 1}])),
     [{"b": Decimal("0.00"), "fx": Decimal("0.0000"), "big": Decimal("0"), "ob": None},
      {"b": Decimal("-1.28"), "fx": Decimal("-1.0000"), "big": Decimal("-99999999999999999999999999999999999999"),
       "ob": Decimal("-12.8")},
      {"b": Decimal("12345678.99"), "fx": Decimal("1234567890123456.7890"), "big": Decimal(2**126), "ob": Decimal("1.0")},
      {"b": Decimal("-1.27"), "fx": Decimal("0.0001"), "big": Decimal(-(2**64)), "ob": Decimal("-0.1")}]),
    ("uuid", rec("U", f("u", {"type": "string", "logicalType": "uuid"}),
                 f("ou", ["null", {"type": "string", "logicalType": "uuid"}])),
     [{"u": "123e4567-e89b-12d3-a456-426614174000", "ou": None},
      {"u": "00000000-0000-0000-0000-000000000000", "ou": "ffffffff-ffff-ffff-ffff-ffffffffffff"}]),
    ("date and time", rec("T", f("d", {"type": "int", "logicalType": "date"}),
                          f("tm", {"type": "int", "logicalType": "time-millis"}),
                          f("tu", {"type": "long", "logicalType": "time-micros"})),
     [{"d": dt.date(1970, 1, 1), "tm": dt.time(0, 0), "tu": dt.time(0, 0)},
      {"d": dt.date(2024, 2, 29), "tm": dt.time(23, 59, 59, 999000), "tu": dt.time(12, 30, 1, 123456)},
      {"d": dt.date(1900, 1, 1), "tm": dt.time(1, 2, 3), "tu": dt.time(23, 59, 59, 999999)}]),
    ("timestamps", rec("TS", f("ms", {"type": "long", "logicalType": "timestamp-millis"}),
                       f("us", {"type": "long", "logicalType": "timestamp-micros"}),
                       f("ns", {"type": "long", "logicalType": "timestamp-nanos"}),
                       f("lms", {"type": "long", "logicalType": "local-timestamp-millis"}),
                       f("lus", {"type": "long", "logicalType": "local-timestamp-micros"}),
                       f("lns", {"type": "long", "logicalType": "local-timestamp-nanos"}),
                       f("ous", ["null", {"type": "long", "logicalType": "timestamp-micros"}])),
     [{"ms": dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC), "us": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
       "ns": 1714564800123456789, "lms": dt.datetime(2024, 5, 1, 12, 0, 0, 5000), "lus": dt.datetime(2000, 1, 1, 0, 0, 0, 1),
       "lns": -1, "ous": None},
      {"ms": dt.datetime(1970, 1, 1, tzinfo=UTC), "us": dt.datetime(2262, 4, 11, tzinfo=UTC), "ns": 0,
       "lms": dt.datetime(1950, 6, 6), "lus": dt.datetime(1970, 1, 1), "lns": 2**62,
       "ous": dt.datetime(2030, 1, 1, 1, 1, 1, 1, tzinfo=UTC)}]),
    ("duration", rec("Du", f("d", {"type": "fixed", "name": "Dur", "size": 12, "logicalType": "duration"})),
     [{"d": duration(0, 0, 0)}, {"d": duration(14, 3, 86400000)}]),
    ("multi-type union", rec("MU", f("u", ["null", "int", "string", "double"]), f("v", ["long", "boolean"])),
     [{"u": None, "v": 1}, {"u": 7, "v": True}, {"u": "s", "v": -5}, {"u": 2.5, "v": False}]),
    ("nested enums maps of records", rec("NE",
        f("colors", {"type": "array", "items": {"type": "enum", "name": "C", "symbols": ["R", "G", "B"]}}),
        f("by_name", {"type": "map", "values": rec("Pt", f("x", "double"), f("c", "C"))}),
        f("opt", {"type": "array", "items": ["null", "Pt"]}),
        f("deep", {"type": "map", "values": {"type": "array", "items": {"type": "map", "values": ["null", "string"]}}})),
     [{"colors": ["B", "R"], "by_name": {"a": {"x": 1.0, "c": "G"}}, "opt": [None, {"x": -2.0, "c": "R"}],
       "deep": {"k": [{"z": None, "y": "v"}, {}]}},
      {"colors": [], "by_name": {}, "opt": [], "deep": {}}]),
    ("union of records", rec("UR", f("u", ["null", rec("Cat", f("meow", "string")), rec("Dog", f("bark", "long"))])),
     [{"u": None}, {"u": {"meow": "m"}}, {"u": {"bark": 3}}]),
    ("defaults in schema", rec("Df", f("a", "int", default=1), f("b", ["null", "string"], default=None),
                               f("c", {"type": "array", "items": "int"}, default=[1, 2]),
                               f("e", {"type": "enum", "name": "E2", "symbols": ["A", "B"], "default": "A"}, default="B")),
     [{"a": 5, "b": "x", "c": [], "e": "A"}]),
]


def arrow_value(case_id, row):
    if case_id == "duration":
        m, d, ms = struct.unpack("<III", row["d"])
        return {"d": pa.MonthDayNano([m, d, ms * 1_000_000])}
    return row


def norm_type(t):
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.int64()
    if pa.types.is_dictionary(t):
        return t.value_type
    if pa.types.is_struct(t):
        return pa.struct([pa.field(x.name, norm_type(x.type), x.nullable) for x in t])
    if pa.types.is_map(t):
        return pa.map_(t.key_type, pa.field(t.item_field.name, norm_type(t.item_type), t.item_field.nullable))
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, norm_type(t.value_type), t.value_field.nullable))
    return t


def normalize(table):
    """Rows as Python values, with ns timestamps as ints and enums as their symbols."""
    if any(pa.types.is_union(x.type) for x in table.schema):
        return table.to_pylist()
    schema = pa.schema([pa.field(x.name, norm_type(x.type), x.nullable) for x in table.schema])
    return table.cast(schema).to_pylist()


def norm_values(v):
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {k: norm_values(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_values(x) for x in v]
    return v


class Tool:
    def __init__(self, binary, tmp_path):
        self.binary = binary
        self.tmp = tmp_path
        self.n = 0

    def path(self, suffix):
        self.n += 1
        return self.tmp / f"f{self.n}{suffix}"

    def run(self, *args):
        proc = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def schema_file(self, schema):
        p = self.path(".json")
        p.write_text(json.dumps(schema))
        return p

    def arrow_schema(self, schema):
        out = self.path(".arrow")
        self.run("arrow-schema", self.schema_file(schema), out)
        return read_ipc(out).schema

    def encode(self, schema, table):
        inp, out = self.path(".arrow"), self.path(".bin")
        write_ipc(inp, table)
        self.run("encode", self.schema_file(schema), inp, out)
        return out.read_bytes()

    def decode(self, writer, data, count, reader=None):
        inp, out = self.path(".bin"), self.path(".arrow")
        inp.write_bytes(data)
        args = ["decode", self.schema_file(writer), inp, count, out]
        if reader is not None:
            args.append(self.schema_file(reader))
        self.run(*args)
        return read_ipc(out)

    def ocf_write(self, schema, table, codec, per_block=2):
        inp, out = self.path(".arrow"), self.path(".avro")
        write_ipc(inp, table)
        self.run("ocf-write", self.schema_file(schema), inp, out, codec, per_block)
        return out.read_bytes()

    def ocf_read(self, data, reader=None):
        inp, out = self.path(".avro"), self.path(".arrow")
        inp.write_bytes(data)
        args = ["ocf-read", inp, out] + ([self.schema_file(reader)] if reader is not None else [])
        self.run(*args)
        return read_ipc(out)


def write_ipc(path, table):
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)


def read_ipc(path):
    with pa.ipc.open_file(str(path)) as r:
        return r.read_all()


@pytest.fixture
def tool(avro_tool, tmp_path):
    return Tool(avro_tool, tmp_path)


def fastavro_bytes(schema, rows):
    parsed = fastavro.parse_schema(schema)
    out = []
    for row in rows:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, row)
        out.append(buf.getvalue())
    return out


def has_union(schema):
    return any(isinstance(x["type"], list) and len([b for b in x["type"] if b != "null"]) > 1
               for x in schema["fields"])


def expected_rows(case_id, arrow_schema, rows):
    if has_union_schema(arrow_schema):
        return rows
    table = pa.Table.from_pylist([arrow_value(case_id, r) for r in rows], schema=arrow_schema)
    return normalize(table)


def has_union_schema(arrow_schema):
    return any(pa.types.is_union(x.type) for x in arrow_schema)


@pytest.mark.parametrize("case_id,schema,rows", CASES, ids=[c[0] for c in CASES])
def test_decode_fastavro_bytes(tool, case_id, schema, rows):
    data = fastavro_bytes(schema, rows)
    table = tool.decode(schema, b"".join(data), len(rows))
    assert normalize(table) == expected_rows(case_id, table.schema, rows)


@pytest.mark.parametrize("case_id,schema,rows", CASES, ids=[c[0] for c in CASES])
def test_encode_matches_fastavro_bytes(tool, case_id, schema, rows):
    expected = b"".join(fastavro_bytes(schema, rows))
    arrow_schema = tool.arrow_schema(schema)
    if not has_union_schema(arrow_schema):
        # Built by pyarrow from the values fastavro wrote: an independent input.
        table = pa.Table.from_pylist([arrow_value(case_id, r) for r in rows], schema=arrow_schema)
        assert tool.encode(schema, table) == expected
    # And what we decoded from fastavro's bytes re-encodes to exactly those bytes.
    decoded = tool.decode(schema, expected, len(rows))
    assert tool.encode(schema, decoded) == expected


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case_id,schema,rows", CASES, ids=[c[0] for c in CASES])
def test_fastavro_reads_our_container_files(tool, codec, case_id, schema, rows):
    data = fastavro_bytes(schema, rows)
    decoded = tool.decode(schema, b"".join(data), len(rows))
    ocf = tool.ocf_write(schema, decoded, codec)
    reader = fastavro.reader(io.BytesIO(ocf))
    assert reader.codec == codec
    got = list(reader)
    # fastavro reads its own bytes the same way: compare against that.
    parsed = fastavro.parse_schema(schema)
    want = [fastavro.schemaless_reader(io.BytesIO(d), parsed, None) for d in data]
    assert norm_values(got) == norm_values(want)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case_id,schema,rows", CASES, ids=[c[0] for c in CASES])
def test_we_read_fastavro_container_files(tool, codec, case_id, schema, rows):
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), rows, codec=codec, sync_interval=64)
    table = tool.ocf_read(buf.getvalue())
    assert normalize(table) == expected_rows(case_id, table.schema, rows)


# Writer -> reader schema resolution, checked against fastavro's own resolution.
RESOLUTION = [
    ("promotions",
     rec("R", f("a", "int"), f("b", "int"), f("c", "long"), f("d", "float"), f("e", "string"), f("g", "bytes")),
     rec("R", f("a", "long"), f("b", "double"), f("c", "float"), f("d", "double"), f("e", "bytes"), f("g", "string")),
     [{"a": -1, "b": 3, "c": 2**40, "d": 0.5, "e": "s", "g": b"b"}]),
    ("defaults and skipped fields",
     rec("R", f("x", "int"), f("gone", rec("G", f("q", {"type": "array", "items": "string"}),
                                           f("r", {"type": "map", "values": ["null", "double"]}))),
         f("gone2", ["null", "string", "long"])),
     rec("R", f("x", "int"), f("s", "string", default="dflt"), f("n", ["null", "long"], default=None),
         f("arr", {"type": "array", "items": "int"}, default=[4, 5]),
         f("sub", rec("Sub", f("k", "double")), default={"k": 1.5})),
     [{"x": 1, "gone": {"q": ["a", "b"], "r": {"k": None, "l": 2.0}}, "gone2": 5},
      {"x": 2, "gone": {"q": [], "r": {}}, "gone2": None}]),
    ("recursive writer type skipped",
     rec("LL", f("v", "int"), f("next", ["null", "LL"])),
     rec("LL", f("v", "int")),
     [{"v": 1, "next": {"v": 2, "next": {"v": 3, "next": None}}}, {"v": 4, "next": None}]),
    ("reader with fewer and reordered fields",
     rec("R", f("a", "int"), f("b", "string"), f("c", {"type": "array", "items": "long"}), f("d", "double")),
     rec("R", f("d", "double"), f("b", "string")),
     [{"a": 1, "b": "x", "c": [1, 2], "d": 0.25}]),
    ("aliases",
     rec("R", f("old", "long")),
     rec("R", f("new", "long", aliases=["old"])),
     [{"old": 9}]),
    ("enum mapping with default",
     rec("R", f("e", {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]})),
     rec("R", f("e", {"type": "enum", "name": "E", "symbols": ["C", "A", "UNKNOWN"], "default": "UNKNOWN"})),
     [{"e": "A"}, {"e": "B"}, {"e": "C"}]),
    ("union to nullable and back",
     rec("R", f("a", ["null", "int"]), f("b", "int"), f("c", ["int", "null"])),
     rec("R", f("a", ["null", "long"]), f("b", ["null", "long"]), f("c", ["null", "double"])),
     [{"a": None, "b": 1, "c": 2}, {"a": 3, "b": -4, "c": None}]),
]


@pytest.mark.parametrize("case_id,writer,reader,rows", RESOLUTION, ids=[c[0] for c in RESOLUTION])
def test_resolution_matches_fastavro(tool, case_id, writer, reader, rows):
    data = fastavro_bytes(writer, rows)
    w, r = fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    want = [fastavro.schemaless_reader(io.BytesIO(d), w, r) for d in data]
    table = tool.decode(writer, b"".join(data), len(rows), reader=reader)
    assert normalize(table) == expected_rows(case_id, table.schema, want)


def test_resolution_in_container_files(tool):
    writer, reader, rows = RESOLUTION[1][1:]
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(writer), rows, codec="deflate")
    table = tool.ocf_read(buf.getvalue(), reader=reader)
    r = fastavro.parse_schema(reader)
    want = list(fastavro.reader(io.BytesIO(buf.getvalue()), reader_schema=r))
    assert normalize(table) == expected_rows("resolution", table.schema, want)


@pytest.mark.parametrize("case_id,schema,rows", CASES, ids=[c[0] for c in CASES])
def test_canonical_form_and_fingerprint(tool, case_id, schema, rows):
    out = tool.run("fingerprint", tool.schema_file(schema)).splitlines()
    canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(schema))
    assert out[0] == canonical
    fp = fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")
    assert int(out[1]) == struct.unpack("<q", bytes.fromhex(fp))[0]
