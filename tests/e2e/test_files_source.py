"""The files source end to end: JSON lines and Parquet in, resumable at any record,
bad records failing, skipped or dead-lettered exactly once."""
import json
import pathlib
import signal
import subprocess

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

FILES = 6
ROWS_PER_FILE = 4000


def make_inputs(directory: pathlib.Path, bad_every: int = 0):
    directory.mkdir(parents=True)
    expected = []
    for f in range(FILES):
        lines = []
        for i in range(ROWS_PER_FILE):
            row_id = f * ROWS_PER_FILE + i
            if bad_every and row_id % bad_every == 7:
                lines.append('{"id": %d, "name": "broken' % row_id)  # not JSON
                continue
            lines.append(json.dumps({"id": row_id, "name": f"n{row_id}", "score": row_id / 4, "extra": [1, 2]}))
            expected.append(row_id)
        (directory / f"part-{f:03d}.jsonl").write_text("\n".join(lines) + "\n")
    return expected


def ddl(tmp: pathlib.Path, source_dir: pathlib.Path, out: pathlib.Path, extra: str = "", fmt: str = "json") -> pathlib.Path:
    path = tmp / "files.sql"
    columns = "(id BIGINT NOT NULL, name VARCHAR, score DOUBLE)" if fmt == "json" else ""
    path.write_text(f"""
CREATE SOURCE input {columns} FROM FILES (path = '{source_dir}', format = '{fmt}', 'read.bytes' = '16384',
  'rate.rows-per-second' = '20000'{extra});
CREATE SINK out FROM input INTO FILES (path = '{out}');
""")
    return path


def run(binary, ddl_path, checkpoints, fault=None, timeout=120):
    import os
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    if fault:
        env["LAMINAR_FAULT_POINT"] = fault
    result = subprocess.run([binary, "run", str(ddl_path), "--checkpoint-dir", str(checkpoints),
                             "--checkpoint-interval", "20", "--no-status"], env=env, capture_output=True, text=True,
                            timeout=timeout)
    return result.returncode, result.stderr


def ids(out: pathlib.Path):
    return sorted(ds.dataset(str(out), format="parquet").to_table().column("id").to_pylist())


def test_json_lines_resume_exactly_after_kills(laminar_connect, tmp_path):
    expected = make_inputs(tmp_path / "in")
    path = ddl(tmp_path, tmp_path / "in", tmp_path / "out")
    for point in ["checkpoint.after_persist:2", "files.commit.mid_rename:2", "checkpoint.after_drain:2",
                  "checkpoint.after_commit:2"]:
        code, log = run(laminar_connect, path, tmp_path / "cp", fault=point)
        assert code == -signal.SIGKILL, f"{point} not reached: {log}"
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    assert ids(tmp_path / "out") == expected


def test_bad_record_fails_naming_file_and_offset(laminar_connect, tmp_path):
    make_inputs(tmp_path / "in", bad_every=5000)
    code, log = run(laminar_connect, ddl(tmp_path, tmp_path / "in", tmp_path / "out"), tmp_path / "cp")
    assert code == 1
    assert "cannot decode the record at file part-000.jsonl offset 388" in log, log
    assert log.count("epoch 1 failed") == 1  # a record that cannot decode is not replayed in vain


def test_skip_and_dead_letter(laminar_connect, tmp_path):
    expected = make_inputs(tmp_path / "in", bad_every=1000)
    bad = FILES * ROWS_PER_FILE - len(expected)
    code, log = run(laminar_connect, ddl(tmp_path, tmp_path / "in", tmp_path / "skip", ", 'on.error' = 'skip'"),
                    tmp_path / "cp1")
    assert code == 0, log
    assert ids(tmp_path / "skip") == expected
    dlq = tmp_path / "dlq"
    path = ddl(tmp_path, tmp_path / "in", tmp_path / "out",
               f", 'on.error' = 'dead_letter', 'dead_letter.path' = '{dlq}', 'dead_letter.max-per-second' = '0'")
    code, log = run(laminar_connect, path, tmp_path / "cp2", fault="checkpoint.after_persist:4")
    assert code == -signal.SIGKILL, log
    code, log = run(laminar_connect, path, tmp_path / "cp2")
    assert code == 0, log
    assert ids(tmp_path / "out") == expected
    letters = []
    for f in sorted(dlq.iterdir()):
        if not f.name.startswith(("_", ".")):
            letters += [json.loads(line) for line in f.read_text().splitlines()]
    assert len(letters) == bad  # each bad record exactly once, despite the kill
    first = min(letters, key=lambda r: (r["partition"], int(r["offset"])))
    assert first["source"] == "input" and first["partition"] == "part-000.jsonl"
    assert "broken" in __import__("base64").b64decode(first["value"]).decode()


def test_parquet_files_with_inferred_columns(laminar_connect, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in range(3):
        table = pa.table({"id": pa.array(range(f * 1000, (f + 1) * 1000), pa.int64()),
                          "v": pa.array([str(i) for i in range(1000)])})
        pq.write_table(table, src / f"f{f}.parquet", row_group_size=300)
    path = ddl(tmp_path, src, tmp_path / "out", fmt="parquet")
    code, log = run(laminar_connect, path, tmp_path / "cp", fault="checkpoint.after_persist:3")
    assert code in (0, -signal.SIGKILL), log
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    assert ids(tmp_path / "out") == list(range(3000))


def test_csv_files_resume_exactly_and_dead_letter_bad_rows(laminar_connect, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    expected, bad = [], 0
    for f in range(8):
        lines = ['id,name,score']
        for i in range(3000):
            row_id = f * 3000 + i
            if row_id % 997 == 5:
                lines.append(f'x{row_id},bad,1.0')  # id is not a number
                bad += 1
                continue
            name = f'"name, with comma {row_id}"' if row_id % 3 == 0 else f'n{row_id}'
            lines.append(f'{row_id},{name},{row_id / 8}')
            expected.append(row_id)
        (src / f"f{f}.csv").write_text("\n".join(lines) + "\n")
    dlq = tmp_path / "dlq"
    path = tmp_path / "csv.sql"
    path.write_text(f"""
CREATE SOURCE input (id BIGINT NOT NULL, name VARCHAR, score DOUBLE) FROM FILES (
  path = '{src}', format = 'csv', 'read.bytes' = '8192', 'rate.rows-per-second' = '20000',
  'on.error' = 'dead_letter', 'dead_letter.path' = '{dlq}', 'dead_letter.max-per-second' = '0');
CREATE SINK out FROM input INTO FILES (path = '{tmp_path / "out"}');
""")
    for point in ["checkpoint.after_persist:2", "checkpoint.after_drain:2", "files.commit.mid_rename:2"]:
        code, log = run(laminar_connect, path, tmp_path / "cp", fault=point)
        assert code == -signal.SIGKILL, f"{point} not reached: {log}"
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    table = ds.dataset(str(tmp_path / "out"), format="parquet").to_table().sort_by("id")
    assert table.column("id").to_pylist() == expected
    assert table.column("name").to_pylist()[0] == "name, with comma 0"
    letters = []
    for f in sorted(dlq.iterdir()):
        if not f.name.startswith(("_", ".")):
            letters += [json.loads(line) for line in f.read_text().splitlines()]
    assert len(letters) == bad


def test_avro_container_files(laminar_connect, tmp_path):
    import fastavro
    schema = fastavro.parse_schema({"type": "record", "name": "Row", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}]})
    src = tmp_path / "in"
    src.mkdir()
    for f, codec in enumerate(["null", "deflate", "snappy", "zstandard"]):
        rows = [{"id": f * 500 + i, "name": None if i % 5 == 0 else f"n{i}", "at": 1_700_000_000_000_000 + i}
                for i in range(500)]
        with open(src / f"part-{f}.avro", "wb") as out:
            fastavro.writer(out, schema, rows, codec=codec, sync_interval=2000)
    path = tmp_path / "avro.sql"
    path.write_text(f"""
CREATE SOURCE input FROM FILES (path = '{src}', format = 'avro');
CREATE SINK out FROM input INTO FILES (path = '{tmp_path / "out"}');
""")
    code, log = run(laminar_connect, path, tmp_path / "cp", fault="checkpoint.after_persist:2")
    assert code in (0, -signal.SIGKILL), log
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    table = ds.dataset(str(tmp_path / "out"), format="parquet").to_table().sort_by("id")
    assert table.column("id").to_pylist() == list(range(2000))
    assert table.column("name").null_count == 400


def test_columns_inferred_from_json_and_csv_when_none_declared(laminar_connect, tmp_path):
    for fmt in ("json", "csv"):
        src = tmp_path / f"in_{fmt}"
        src.mkdir()
        if fmt == "json":
            (src / "a.jsonl").write_text("".join(
                json.dumps({"id": i, "name": f"n{i}", "score": i / 2, "ok": i % 2 == 0}) + "\n" for i in range(300)))
        else:
            (src / "a.csv").write_text("id,name,score\n" + "".join(f"{i},n{i},{i / 2}\n" for i in range(300)))
        path = tmp_path / f"infer_{fmt}.sql"
        out = tmp_path / f"out_{fmt}"
        path.write_text(f"CREATE SOURCE input FROM FILES (path = '{src}', format = '{fmt}');\n"
                        f"CREATE SINK out FROM input INTO FILES (path = '{out}');\n")
        code, log = run(laminar_connect, path, tmp_path / f"cp_{fmt}")
        assert code == 0, log
        table = ds.dataset(str(out), format="parquet").to_table().sort_by("id")
        assert table.column("id").type == pa.int64()
        assert table.column("score").type == pa.float64()
        assert table.column("id").to_pylist() == list(range(300))
        assert table.column("name").to_pylist()[:2] == ["n0", "n1"]


def test_watch_follows_new_files_until_stopped(laminar_connect, tmp_path):
    import time
    src = tmp_path / "in"
    src.mkdir()

    def drop(index: int) -> None:
        staging = tmp_path / f".tmp-{index}"
        staging.write_text("".join(json.dumps({"id": index * 100 + i}) + "\n" for i in range(100)))
        staging.rename(src / f"batch-{index:03d}.jsonl")  # files appear whole

    drop(0)
    path = tmp_path / "watch.sql"
    path.write_text(f"""
CREATE SOURCE input (id BIGINT NOT NULL) FROM FILES (path = '{src}/*.jsonl', watch = 'true', 'poll.interval.ms' = '50');
CREATE SINK out FROM input INTO FILES (path = '{tmp_path / "out"}');
""")
    proc = subprocess.Popen([laminar_connect, "run", str(path), "--checkpoint-dir", str(tmp_path / "cp"),
                             "--checkpoint-interval", "100", "--no-status"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    for index in range(1, 6):
        time.sleep(0.3)
        drop(index)
    (src / "ignored.txt").write_text("not matched by the glob\n")
    time.sleep(1.0)
    assert proc.poll() is None, "a watching source must not end on its own"
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, log
    assert ids(tmp_path / "out") == list(range(600))


def test_watch_reads_a_late_file_that_sorts_first_exactly_once(laminar_connect, tmp_path):
    import time
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()

    def drop(name: str, first: int) -> None:
        staging = tmp_path / f".tmp-{name}"
        staging.write_text("".join(json.dumps({"id": first + i}) + "\n" for i in range(100)))
        staging.rename(src / name)

    def committed() -> list:
        visible = [f for f in out.iterdir() if not f.name.startswith(("_", "."))] if out.exists() else []
        return ids(out) if visible else []

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(committed()) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    path = tmp_path / "watch.sql"
    path.write_text(f"""
CREATE SOURCE input (id BIGINT NOT NULL) FROM FILES (path = '{src}', watch = 'true', 'poll.interval.ms' = '50');
CREATE SINK out FROM input INTO FILES (path = '{out}');
""")

    def start():
        return subprocess.Popen([laminar_connect, "run", str(path), "--checkpoint-dir", str(tmp_path / "cp"),
                                 "--checkpoint-interval", "100", "--no-status"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)

    def stop(proc) -> None:
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, log

    drop("b.jsonl", 100)
    proc = start()
    wait_for(100)
    drop("a.jsonl", 0)  # sorts before b.jsonl, which is already read
    wait_for(200)
    stop(proc)
    assert committed() == list(range(200))
    # Restored from the checkpoint: neither file again, and a new file that sorts first is read.
    proc = start()
    time.sleep(1.0)
    drop("0.jsonl", 300)
    wait_for(300)
    time.sleep(0.5)
    stop(proc)
    assert committed() == list(range(200)) + list(range(300, 400))


def test_later_parquet_files_are_read_as_the_columns_inferred_from_the_first(laminar_connect, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": pa.array(range(1000), pa.int64()), "v": [str(i) for i in range(1000)]}),
                   src / "f0.parquet", row_group_size=300)
    # A narrower id (widened), the columns in another order and one more column (dropped).
    pq.write_table(pa.table({"extra": pa.array([0.5] * 1000), "v": [str(i) for i in range(1000, 2000)],
                             "id": pa.array(range(1000, 2000), pa.int32())}), src / "f1.parquet", row_group_size=300)
    path = ddl(tmp_path, src, tmp_path / "out", fmt="parquet")
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    table = ds.dataset(str(tmp_path / "out"), format="parquet").to_table().sort_by("id")
    assert table.schema.names == ["id", "v"] and table.schema.field("id").type == pa.int64()
    assert table.column("id").to_pylist() == list(range(2000))
    assert table.column("v").to_pylist() == [str(i) for i in range(2000)]
    # A file whose column cannot hold the inferred type fails, naming the file and the column.
    pq.write_table(pa.table({"id": pa.array([1], pa.int64()), "v": pa.array([1], pa.int64())}), src / "f2.parquet")
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code != 0
    assert "file f2.parquet: column 'v' is int64, the source's columns (inferred from f0.parquet) have string" in log, log


def test_debezium_files_into_files_sink(laminar_connect, tmp_path):
    """Debezium change events as JSON lines -> changelog rows with `_op` (+I 0, -U 1, +U 2,
    -D 3), schema+payload wrapped or bare; a truncate and a tombstone yield no row."""
    (tmp_path / "in").mkdir()
    events = [
        {"op": "c", "after": {"id": 1, "name": "a"}},
        {"schema": {"type": "struct"}, "payload": {"op": "u", "before": {"id": 1, "name": "a"},
                                                   "after": {"id": 1, "name": "b"}}},
        {"op": "t"},
        None,
        {"op": "r", "after": {"id": 2, "name": "c"}},
        {"op": "d", "before": {"id": 1, "name": "b"}},
    ]
    (tmp_path / "in" / "cdc.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    path = tmp_path / "cdc.sql"
    path.write_text(f"""
CREATE SOURCE cdc (id BIGINT NOT NULL, name VARCHAR) FROM FILES (path = '{tmp_path / "in"}', format = 'debezium');
CREATE SINK out FROM cdc INTO FILES (path = '{tmp_path / "out"}');
""")
    code, log = run(laminar_connect, path, tmp_path / "cp")
    assert code == 0, log
    table = ds.dataset(str(tmp_path / "out"), format="parquet").to_table()
    assert table.column_names == ["id", "name", "_op"]
    rows = list(zip(table.column("id").to_pylist(), table.column("name").to_pylist(), table.column("_op").to_pylist()))
    assert rows == [(1, "a", 0), (1, "a", 1), (1, "b", 2), (2, "c", 0), (1, "b", 3)]
