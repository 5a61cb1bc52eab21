"""Delta Lake append throughput: our sink (bench/delta_bench) against delta-rs
(deltalake.write_deltalake) on the very same Arrow batch, in the same run, plus our commit
latency and memory across 200 small commits. Prints the figures and the ratio; absolute
numbers vary with the machine, the ratio is the result.
Usage: delta_bench.py DELTA_BENCH_BINARY [epochs=100] [epoch_rows=100000]
"""
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.ipc
from deltalake import DeltaTable, WriterProperties, write_deltalake


def main() -> None:
    binary = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    epoch_rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    work = pathlib.Path(tempfile.mkdtemp(prefix="delta-bench-"))
    try:
        out = subprocess.run([binary, str(work), str(epochs), str(epoch_rows)], check=True, capture_output=True,
                             text=True).stdout
        ours = {k: float(v) for k, v in (line.split() for line in out.splitlines() if line.strip())}
        batch = pa.ipc.open_file(work / "batch.arrow").get_batch(0)
        table = pa.Table.from_batches([batch])
        peer_path = work / "delta_rs"
        # Same codec as our default (zstd), so the comparison is the writer, not the codec.
        props = WriterProperties(compression="ZSTD")
        start = time.perf_counter()
        for _ in range(epochs):
            write_deltalake(str(peer_path), table, mode="append", writer_properties=props)
        peer_seconds = time.perf_counter() - start
        assert DeltaTable(str(peer_path)).to_pyarrow_table().num_rows == epochs * epoch_rows
        assert DeltaTable(str(work / "laminar")).to_pyarrow_table().num_rows == epochs * epoch_rows

        small = pa.Table.from_batches([batch.slice(0, 1000)])
        latencies = []
        small_path = work / "delta_rs_small"
        for _ in range(200):
            t0 = time.perf_counter()
            write_deltalake(str(small_path), small, mode="append", writer_properties=props)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        rows = epochs * epoch_rows
        mb = ours["arrow_bytes"] / 1e6
        print(f"Delta append: {epochs} commits of {epoch_rows} rows x 16 columns ({mb:.0f} MB of Arrow data), zstd")
        print(f"  laminar delta-lake sink   {rows / ours['seconds']:12.0f} rows/s {mb / ours['seconds']:8.1f} MB/s")
        print(f"  deltalake.write_deltalake {rows / peer_seconds:12.0f} rows/s {mb / peer_seconds:8.1f} MB/s")
        print(f"  ratio: ours / delta-rs = {peer_seconds / ours['seconds']:.2f}x")
        print("200 commits of 1000 rows (latency = file close + log commit):")
        print(f"  laminar   p50 {ours['commit_p50_ms']:.2f} ms  p99 {ours['commit_p99_ms']:.2f} ms  "
              f"RSS after commit 1/100/200: {ours['rss_kb_after_1'] / 1024:.0f}/{ours['rss_kb_after_100'] / 1024:.0f}/"
              f"{ours['rss_kb_after_200'] / 1024:.0f} MB, peak {ours['peak_rss_kb'] / 1024:.0f} MB")
        print(f"  delta-rs  p50 {latencies[len(latencies) // 2]:.2f} ms  p99 {latencies[len(latencies) * 99 // 100]:.2f} ms"
              f"  (write_deltalake call, Python process peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
        print("A growing table, 3000 commits of 100 rows; memory in use (malloc + Arrow pool) and resident, "
              "after commit 500 / 3000:")
        for name, label in (("growing", "no compaction"), ("growing_compacted", "background compaction")):
            held = (ours[f"{name}_held_kb_after_3000"] - ours[f"{name}_held_kb_after_500"]) * 1024
            print(f"  {label:22s} in use {ours[f'{name}_held_kb_after_500'] / 1024:.1f} / "
                  f"{ours[f'{name}_held_kb_after_3000'] / 1024:.1f} MB ({held / 2500:.0f} bytes more per commit), "
                  f"resident {ours[f'{name}_rss_kb_after_500'] / 1024:.0f} / {ours[f'{name}_rss_kb_after_3000'] / 1024:.0f} MB; "
                  f"{ours[f'{name}_live_files']:.0f} live files, {ours[f'{name}_tombstones']:.0f} tombstones")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
