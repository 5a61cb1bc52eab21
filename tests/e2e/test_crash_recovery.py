"""Exactly-once under SIGKILL: datagen -> files (Parquet) with a 200 ms checkpoint interval.

The process is killed at every named commit step (a test-only fault hook) and at 20
random moments, restarted after each kill, and finally run to completion. The Parquet
files must then hold exactly the rows of an uninterrupted reference run, each once.
"""
import os
import pathlib
import random
import signal
import subprocess
import time

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

ROWS = 100_000
FAULT_POINTS = [
    "checkpoint.after_drain",
    "checkpoint.after_pre_commit",
    "files.pre_commit.after_sync",
    "checkpoint.after_persist",
    "files.commit.mid_rename",
    "checkpoint.after_first_sink_commit",
    "checkpoint.after_commit",
    "checkpoint.after_status_persist",
]

DDL = """
CREATE SOURCE events (
  id BIGINT NOT NULL,
  name VARCHAR,
  amount DECIMAL(12, 3),
  score DOUBLE,
  at TIMESTAMP(6) WITH TIME ZONE{nested}
) FROM DATAGEN (
  'rows-per-second' = '{rate}',
  'number-of-rows' = '{rows}',
  'fields.id.kind' = 'sequence',
  'fields.name.null-rate' = '0.1',
  seed = '7'
);
CREATE SINK out FROM events INTO FILES (path = '{out}', format = '{format}');
"""


def write_ddl(tmp: pathlib.Path, name: str, out: pathlib.Path, fmt: str = "parquet", rate: int = 10_000) -> pathlib.Path:
    # The rate only paces the run (so kills land mid-stream); the rows depend on the seed alone.
    path = tmp / f"{name}.sql"
    nested = "" if fmt == "csv" else ",\n  tags ARRAY<INT>"  # CSV has no nested values
    path.write_text(DDL.format(rows=ROWS, out=out, format=fmt, rate=rate, nested=nested))
    return path


def run(binary, ddl, checkpoints, env_extra=None, kill_after=None, timeout=120):
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    env.update(env_extra or {})
    cmd = [binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval", "200", "--no-status"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if kill_after is not None:
        try:
            out, _ = proc.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
    else:
        out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(errors="replace")


def read_sorted(path: pathlib.Path) -> pa.Table:
    table = ds.dataset(str(path), format="parquet").to_table()
    return table.sort_by("id")


@pytest.fixture(scope="module")
def reference(laminar_connect, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "out"
    code, log = run(laminar_connect, write_ddl(tmp, "reference", out, rate=0), tmp / "cp")
    assert code == 0, log
    table = read_sorted(out)
    assert table.num_rows == ROWS
    return table


def test_reference_run_is_complete_and_deterministic(laminar_connect, reference, tmp_path):
    ids = reference.column("id").to_pylist()
    assert ids == list(range(ROWS))
    out = tmp_path / "again"
    code, log = run(laminar_connect, write_ddl(tmp_path, "again", out, rate=0), tmp_path / "cp")
    assert code == 0, log
    assert read_sorted(out).equals(reference)


def test_sigkill_at_every_commit_step_and_random_moments(laminar_connect, reference, tmp_path):
    out = tmp_path / "out"
    ddl = write_ddl(tmp_path, "crashy", out)
    checkpoints = tmp_path / "cp"
    kills = 0
    for point in FAULT_POINTS:
        code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": f"{point}:2"})
        assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log}"
        kills += 1
    rng = random.Random(1234)
    for _ in range(20):
        code, log = run(laminar_connect, ddl, checkpoints, kill_after=rng.uniform(0.05, 0.4))
        assert code in (0, -signal.SIGKILL), log
        kills += code == -signal.SIGKILL
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    result = read_sorted(out)
    ids = result.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicated rows"
    assert ids == list(range(ROWS)), "lost rows"
    assert result.equals(reference), "rows differ from the uninterrupted run"
    assert kills >= len(FAULT_POINTS) + 15, "too few random kills landed before the data ran out"
    staging = out / "_staging"
    assert not staging.exists() or not any(staging.iterdir()), "staging files left behind"


def test_second_sigint_exits_at_once_and_recovery_covers_it(laminar_connect, reference, tmp_path):
    out = tmp_path / "out"
    ddl = write_ddl(tmp_path, "interrupted", out)
    checkpoints = tmp_path / "cp"
    proc = subprocess.Popen([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(checkpoints),
                             "--checkpoint-interval", "200", "--no-status"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode in (0, 130)
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    assert read_sorted(out).equals(reference)


def test_sigterm_takes_a_final_checkpoint(laminar_connect, tmp_path):
    out = tmp_path / "out"
    ddl = write_ddl(tmp_path, "terminated", out)
    proc = subprocess.Popen([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp_path / "cp"),
                             "--checkpoint-interval", "100000", "--no-status"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, log
    table = read_sorted(out)
    assert 0 < table.num_rows < ROWS  # everything read before the signal, and committed
    assert table.column("id").to_pylist() == list(range(table.num_rows))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_other_formats_survive_kills(laminar_connect, tmp_path, fmt):
    out = tmp_path / "out"
    ddl = write_ddl(tmp_path, f"fmt_{fmt}", out, fmt)
    checkpoints = tmp_path / "cp"
    for point in ("checkpoint.after_persist", "files.commit.mid_rename"):
        code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": f"{point}:3"})
        assert code == -signal.SIGKILL, log
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    ids = []
    for f in sorted(out.iterdir()):
        if f.name.startswith(("_", ".")):
            continue
        lines = f.read_text().splitlines()
        if fmt == "csv":
            assert lines[0].startswith('"id"')
            ids += [int(line.split(",")[0]) for line in lines[1:]]
        else:
            import json
            ids += [json.loads(line)["id"] for line in lines]
    assert sorted(ids) == list(range(ROWS))
