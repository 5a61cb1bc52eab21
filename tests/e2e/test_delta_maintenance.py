"""Delta maintenance next to a concurrent writer (issue 4): one pipeline appends with
background compaction on (compaction.enabled, a short compaction.interval.ms) while a second
pipeline appends to the same table. Compaction commits remove+add with dataChange=false
between the two writers' epochs; at the end delta-rs reads every row of both exactly once,
and the compacted files hold the rows of the files they replaced.
"""
import pathlib

from delta_support import (Running, adds_of, check_commit_structure, commit_versions, delta_options,  # noqa: F401
                           delta_rows, delta_sink, read_commit, removes_of, wait_until)

ROWS = 6000
DDL = """
CREATE SOURCE gen (id BIGINT NOT NULL, name VARCHAR) FROM DATAGEN (
  'rows-per-second' = '1500', 'number-of-rows' = '{rows}', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '{start}', seed = '3');
CREATE SINK lake FROM gen INTO DELTA_LAKE (
  {delta}
);
"""


def optimize_versions(table: pathlib.Path) -> list:
    out = []
    for v in commit_versions(table):
        actions = read_commit(table, v)
        info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
        if info.get("operation") == "OPTIMIZE":
            assert all(a["dataChange"] is False for a in adds_of(actions) + removes_of(actions)), \
                f"version {v}: compaction must not change data"
            out.append(v)
    return out


def test_compaction_runs_beside_a_concurrent_appender(laminar_connect, delta_sink, tmp_path):
    table = tmp_path / "shared"
    pipelines = []
    for name, start, extra in (("compacting", 0, {"compaction.enabled": "true", "compaction.interval.ms": "300",
                                                   "compaction.min-files": "4"}),
                               ("plain", 1_000_000, {})):
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(DDL.format(rows=ROWS, start=start, delta=delta_options(**{
            "table.path": table, "writer.id": name, **extra})))
        pipelines.append(Running(laminar_connect, ddl, tmp_path / f"cp-{name}", interval_ms=100))
    for p in pipelines:
        wait_until(lambda: not p.alive(), 120, "the pipeline to finish")
        code, log = p.stop()
        assert code == 0, log

    for writer in ("compacting", "plain"):
        check_commit_structure(table, writer)
    optimized = optimize_versions(table)
    assert optimized, "background compaction never committed"
    plain_versions = [v for v in commit_versions(table)
                      if any(t["txn"]["appId"] == "plain" for t in read_commit(table, v) if "txn" in t)]
    assert any(plain_versions[0] < v < plain_versions[-1] for v in optimized), \
        f"no compaction landed between the other writer's commits ({optimized} vs {plain_versions[0]}..{plain_versions[-1]})"
    ids = delta_rows(table).column("id").to_pylist()
    assert ids == list(range(ROWS)) + list(range(1_000_000, 1_000_000 + ROWS)), "rows lost or duplicated"
