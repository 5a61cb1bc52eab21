"""Delta sink across pipeline restarts that lose their checkpoint directory.

A table keeps txn(appId=writer.id, version=epoch). If the checkpoint directory of a
pipeline is deleted, the next run starts its sources from the beginning and must not have
its first epochs skipped as "already committed" replays: the runtime numbers epochs after
the sink's last committed one, so the new run's rows are written (here: the same datagen
rows again, so each id appears twice — nothing silently dropped)."""
import pathlib
import subprocess

from deltalake import DeltaTable

PIPELINE = """
CREATE SOURCE orders (id BIGINT NOT NULL, customer VARCHAR NOT NULL) FROM DATAGEN (
  'number-of-rows' = '5000', 'rows-per-second' = '20000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.customer.values' = 'a,b', seed = '7');
CREATE SINK lake FROM orders INTO DELTA_LAKE ('table.path' = '{table}');
"""


def run(binary: str, sql: pathlib.Path, checkpoints: pathlib.Path) -> str:
    done = subprocess.run([binary, "run", str(sql), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval",
                           "100", "--no-status"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_lost_checkpoint_directory_does_not_skip_new_epochs(laminar_connect, tmp_path):
    table = tmp_path / "table"
    sql = tmp_path / "pipeline.sql"
    sql.write_text(PIPELINE.format(table=table))
    run(laminar_connect, sql, tmp_path / "cp1")
    first = DeltaTable(str(table)).to_pyarrow_table()
    assert sorted(first.column("id").to_pylist()) == list(range(1, 5001))

    # Same pipeline, same table, fresh checkpoint directory.
    output = run(laminar_connect, sql, tmp_path / "cp2")
    assert "epochs continue at" in output
    ids = DeltaTable(str(table)).to_pyarrow_table().column("id").to_pylist()
    assert len(ids) == 10000
    assert sorted(ids) == sorted(list(range(1, 5001)) * 2)

    # A restart that keeps its checkpoint directory resumes: nothing new, nothing lost.
    run(laminar_connect, sql, tmp_path / "cp2")
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 10000
