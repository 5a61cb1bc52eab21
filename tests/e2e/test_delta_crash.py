"""Exactly-once into Delta Lake under SIGKILL (issue 4): datagen -> delta-lake with a 200 ms
checkpoint interval, killed at every named commit step (LAMINAR_FAULT_POINT=<name>:2) and
at 20 random moments, restarted after each kill, finally run to completion. delta-rs must
then read exactly the generated rows, each once, equal to an uninterrupted run into the
files sink; after every kill the committed table must already be consistent (a prefix of
the sequence, no duplicate). The same for write.mode=upsert, fed a changelog (`_op`).

The fault points: the coordinator's (src/laminar/runtime/fault_points.cc) plus the delta
sink's own, DELTA_FAULT_POINTS below; override the latter with
LAMINAR_DELTA_FAULT_POINTS=name,name,... Each listed point must be reached: a point the
binary never hits fails the test. The tests skip only while `laminar-connect connectors`
lists no delta-lake sink.
"""
import json
import os
import pathlib
import random
import signal

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from delta_support import (assert_same_rows, check_commit_structure, commit_versions, delta_options, delta_rows,  # noqa: F401
                           delta_sink, read_commit, run, sql_string, txns_of, unreferenced_data_files)

ROWS = 200_000
RATE = 10_000  # rows per second: paces the run so kills land mid-stream; rows depend on the seed only

COORDINATOR_FAULT_POINTS = [
    "checkpoint.after_drain",
    "checkpoint.after_pre_commit",
    "checkpoint.after_persist",
    "checkpoint.after_first_sink_commit",
    "checkpoint.after_commit",
    "checkpoint.after_status_persist",
]
DELTA_FAULT_POINTS = [p.strip() for p in os.environ.get(
    "LAMINAR_DELTA_FAULT_POINTS",
    "delta.pre_commit.after_stage,delta.commit.after_log_write,delta.checkpoint.before_last_checkpoint").split(",")
    if p.strip()]
FAULT_POINTS = COORDINATOR_FAULT_POINTS[:3] + DELTA_FAULT_POINTS + COORDINATOR_FAULT_POINTS[3:]
RANDOM_KILLS = 20

COLUMNS = """
  id BIGINT NOT NULL,
  name VARCHAR,
  amount DECIMAL(12, 3),
  score DOUBLE,
  at TIMESTAMP(6) WITH TIME ZONE,
  tags ARRAY<INT>"""

DATAGEN = """
CREATE SOURCE events ({columns}
) FROM DATAGEN (
  'rows-per-second' = '{rate}',
  'number-of-rows' = '{rows}',
  'fields.id.kind' = 'sequence',
  'fields.name.null-rate' = '0.1',
  seed = '7'
);
"""


def write_datagen_ddl(tmp: pathlib.Path, name: str, sink: str, rate: int) -> pathlib.Path:
    path = tmp / f"{name}.sql"
    path.write_text(DATAGEN.format(columns=COLUMNS, rate=rate, rows=ROWS) + sink)
    return path


@pytest.fixture(scope="module")
def reference(laminar_connect, tmp_path_factory):
    """The uninterrupted run into the files sink (Parquet)."""
    tmp = tmp_path_factory.mktemp("delta_reference")
    out = tmp / "out"
    ddl = write_datagen_ddl(tmp, "reference", f"CREATE SINK out FROM events INTO FILES (path = {sql_string(out)});", 0)
    code, log = run(laminar_connect, ddl, tmp / "cp")
    assert code == 0, log
    table = ds.dataset(str(out), format="parquet").to_table().sort_by("id")
    assert table.column("id").to_pylist() == list(range(ROWS))
    return table


def latest_version(table: pathlib.Path) -> int:
    versions = commit_versions(table) if (table / "_delta_log").exists() else []
    return versions[-1] if versions else -1


def committed_rows(table: pathlib.Path, sort_by="id") -> pa.Table:
    if not (table / "_delta_log").exists() or not commit_versions(table):
        return pa.table({sort_by: pa.array([], pa.int64())})
    return delta_rows(table, sort_by=sort_by)


def kill_everywhere(binary, ddl, checkpoints, table, after_each_kill, seed=1234):
    """Kills at each fault point (the 2nd time it is reached), then at RANDOM_KILLS random
    moments, each 0-300 ms after the run's first commit to the table (so it lands while rows
    flow and epochs commit, not in start-up); calls after_each_kill() after every run.
    Returns the number of kills."""
    kills = 0
    for point in FAULT_POINTS:
        code, log = run(binary, ddl, checkpoints, env_extra={"LAMINAR_FAULT_POINT": f"{point}:2"})
        assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log[-3000:]}"
        kills += 1
        after_each_kill(f"after a kill at {point}")
    rng = random.Random(seed)
    for n in range(RANDOM_KILLS):
        before = latest_version(table)
        code, log = run(binary, ddl, checkpoints, kill_after=rng.uniform(0.0, 0.3),
                        kill_once=lambda: latest_version(table) > before)
        assert code in (0, -signal.SIGKILL), log[-3000:]
        kills += code == -signal.SIGKILL
        after_each_kill(f"after random kill {n}")
    return kills


def test_delta_sink_exactly_once_under_sigkill(laminar_connect, delta_sink, reference, tmp_path):
    table = tmp_path / "table"
    ddl = write_datagen_ddl(tmp_path, "crashy", "CREATE SINK lake FROM events INTO DELTA_LAKE (\n  " + delta_options(**{
        "table.path": table, "writer.id": "crash-append", "checkpoint.interval": "10"}) + "\n);", RATE)
    checkpoints = tmp_path / "cp"

    def consistent(when):
        ids = committed_rows(table).column("id").to_pylist()
        assert len(ids) == len(set(ids)), f"{when}: duplicated rows in the committed table"
        assert ids == list(range(len(ids))), f"{when}: the committed table is not a prefix of the sequence"

    kills = kill_everywhere(laminar_connect, ddl, checkpoints, table, consistent)
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    result = delta_rows(table)
    ids = result.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicated rows"
    assert ids == list(range(ROWS)), "lost rows"
    assert_same_rows(result, reference, "rows differ from the uninterrupted run")
    check_commit_structure(table, "crash-append")
    assert unreferenced_data_files(table) == [], "files of undecided epochs were left behind"
    assert kills >= len(FAULT_POINTS) + 15, "too few random kills landed before the data ran out"


# ---------------------------------------------------------------------------------------
# Upsert: a changelog (trailing `_op`: 0 +I, 1 -U, 2 +U, 3 -D) through the files source.

KEYS = 5_000
# More events than ROWS: the upsert sink's epochs take longer than datagen's (files are
# rewritten), so the fault-point runs use up more of the input before their 2nd checkpoint.
UPSERT_EVENTS = 150_000
# A small read.bytes keeps each poll (and so the rate limiter's wait inside it) short, so
# checkpoints come every ~200 ms as with datagen.
UPSERT_DDL = """
CREATE SOURCE changes (id BIGINT NOT NULL, name VARCHAR, amount DOUBLE, _op TINYINT NOT NULL)
  FROM FILES (path = {input}, format = 'json', 'rate.rows-per-second' = '{rate}', 'read.bytes' = '16384');
CREATE SINK lake FROM changes INTO DELTA_LAKE (
  {delta}
);
"""


def changelog(events: int, seed=99):
    """A deterministic changelog of at least `events` rows over KEYS keys: inserts, updates as
    -U/+U pairs (or +U alone), deletes, re-inserts. Returns (rows in order, the final state
    {id: (name, amount)})."""
    rng = random.Random(seed)
    state, rows = {}, []
    while len(rows) < events:
        key = rng.randrange(KEYS)
        value = (f"k{key}-{len(rows)}", round(rng.uniform(-1e6, 1e6), 3))
        if key not in state:
            rows.append((0, key, *value))
            state[key] = value
        elif rng.random() < 0.7:
            if rng.random() < 0.8:
                rows.append((1, key, *state[key]))
            rows.append((2, key, *value))
            state[key] = value
        else:
            rows.append((3, key, *state[key]))
            del state[key]
    return rows, state


def is_a_prefix_state(rows, table: dict) -> bool:
    """Whether `table` ({id: (name, amount)}) equals the state after the first N changelog
    rows for some N: what a crash may leave is the input up to an epoch's end, applied once.
    One pass, tracking how many keys differ between the running state and the table."""
    state = {}
    differing = len(table)
    if differing == 0:
        return True
    for op, key, name, amount in rows:
        matched = state.get(key) == table.get(key)
        if op in (0, 2):
            state[key] = (name, amount)
        else:
            state.pop(key, None)
        now = state.get(key) == table.get(key)
        differing += (not now) - (not matched)
        if differing == 0:
            return True
    return False


def test_delta_upsert_exactly_once_under_sigkill(laminar_connect, delta_sink, tmp_path):
    rows, final = changelog(UPSERT_EVENTS)
    source = tmp_path / "in"
    source.mkdir()
    with open(source / "changes.jsonl", "w") as f:
        for op, key, name, amount in rows:
            f.write(json.dumps({"id": key, "name": name, "amount": amount, "_op": op}) + "\n")
    table = tmp_path / "table"
    ddl = tmp_path / "upsert.sql"
    ddl.write_text(UPSERT_DDL.format(input=sql_string(source), rate=RATE, delta=delta_options(**{
        "table.path": table, "write.mode": "upsert", "merge.key.columns": "id", "writer.id": "crash-upsert",
        "checkpoint.interval": "10"})))
    checkpoints = tmp_path / "cp"

    def consistent(when):
        committed = committed_rows(table)
        ids = committed.column("id").to_pylist()
        assert len(ids) == len(set(ids)), f"{when}: a key appears twice in the committed table"
        assert is_a_prefix_state(rows, {r["id"]: (r["name"], r["amount"]) for r in committed.to_pylist()}), \
            f"{when}: the committed table is not the changelog applied up to any point"

    kills = kill_everywhere(laminar_connect, ddl, checkpoints, table, consistent, seed=4321)
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    result = delta_rows(table)
    assert "_op" not in result.column_names, "the changelog column is not table data"
    got = [(r["id"], r["name"], r["amount"]) for r in result.to_pylist()]
    want = [(k, *v) for k, v in sorted(final.items())]
    assert len(got) == len(want), f"{len(got)} keys, expected {len(want)}"
    assert got == want, "the table differs from the changelog applied once, in order"
    check_commit_structure(table, "crash-upsert")
    assert unreferenced_data_files(table) == [], "files of undecided epochs were left behind"
    assert kills >= len(FAULT_POINTS) + 15, "too few random kills landed before the data ran out"


def test_default_writer_id_survives_a_restart(laminar_connect, delta_sink, reference, tmp_path):
    """Without writer.id the sink derives one from the pipeline and sink names, never a
    random one: an epoch re-committed after a crash that followed its commit is skipped."""
    table = tmp_path / "table"
    ddl = write_datagen_ddl(tmp_path, "default_id", "CREATE SINK lake FROM events INTO DELTA_LAKE (\n  " +
                            delta_options(**{"table.path": table}) + "\n);", RATE)
    checkpoints = tmp_path / "cp"
    for point in ("checkpoint.after_first_sink_commit", "checkpoint.after_commit"):
        code, log = run(laminar_connect, ddl, checkpoints, env_extra={"LAMINAR_FAULT_POINT": f"{point}:2"})
        assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log[-3000:]}"
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    ids = delta_rows(table).column("id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicated rows: the writer id changed across the restart?"
    assert ids == list(range(ROWS))
    app_ids = {t["appId"] for v in commit_versions(table) for t in txns_of(read_commit(table, v))}
    assert len(app_ids) == 1, f"one sink, one writer id; found {sorted(app_ids)}"
