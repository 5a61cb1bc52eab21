"""Avro decode: our compiled decoder (avro_tool bench) against fastavro on the same bytes.

Writes N bid-like records with fastavro.schemaless_writer (concatenated datums, no
container), then times fastavro.schemaless_reader over them and our decoder over them,
and prints MB/s, rows/s and the ratio. Usage: avro_bench.py AVRO_TOOL [records]
"""
import io
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import time

import fastavro

SCHEMA = {"type": "record", "name": "Bid", "fields": [
    {"name": "auction", "type": "long"}, {"name": "bidder", "type": "long"}, {"name": "price", "type": "long"},
    {"name": "channel", "type": "string"}, {"name": "url", "type": "string"},
    {"name": "date_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "extra", "type": ["null", "string"]}]}


def main() -> None:
    tool = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    rng = random.Random(7)
    parsed = fastavro.parse_schema(SCHEMA)
    out = io.BytesIO()
    for i in range(count):
        fastavro.schemaless_writer(out, parsed, {
            "auction": rng.randrange(1000, 101000), "bidder": rng.randrange(10**6), "price": rng.randrange(10**8),
            "channel": f"channel-{rng.randrange(10000)}", "url": f"https://www.nexmark.com/{rng.getrandbits(40):x}/item",
            "date_time": 1_700_000_000_000 + i, "extra": None if i % 10 == 0 else "x" * rng.randrange(20, 60)})
    data = out.getvalue()
    print(f"Avro: {count} bid records, {len(data) / 1e6:.1f} MB")

    best = 1e30
    for _ in range(2):
        buf = io.BytesIO(data)
        start = time.perf_counter()
        for _ in range(count):
            fastavro.schemaless_reader(buf, parsed)
        best = min(best, time.perf_counter() - start)
    print(f"  {'fastavro.schemaless_reader':34s} {len(data) / best / 1e6:9.1f} MB/s {count / best:12.0f} rows/s")

    with tempfile.TemporaryDirectory() as tmp:
        schema_path = pathlib.Path(tmp) / "schema.json"
        data_path = pathlib.Path(tmp) / "data.bin"
        schema_path.write_text(json.dumps(SCHEMA))
        data_path.write_bytes(data)
        ours = 1e30
        for _ in range(3):
            line = subprocess.run([tool, "bench", str(schema_path), str(data_path), str(count), "5"],
                                  capture_output=True, text=True, check=True).stdout
            ours = min(ours, float(line.split(" s,")[0]) / 5)
    print(f"  {'laminar Avro decoder':34s} {len(data) / ours / 1e6:9.1f} MB/s {count / ours:12.0f} rows/s")
    print(f"  ratio: ours / fastavro = {best / ours:.1f}x")


if __name__ == "__main__":
    main()
