"""The Kafka connectors against a real Kafka 3.9 broker (the `kafka_broker` fixture), judged
by confluent-kafka (librdkafka's Python client) and the Java client's own partitioner.

- datagen -> Kafka sink, exactly-once: SIGKILL at every commit step (the coordinator's,
  the Kafka sink's and the replay's) and at random moments, restart each time; a
  read_committed consumer then sees every generated row exactly once.
- Kafka source -> files (Parquet) and -> Delta Lake: the same kills while messages keep
  arriving; every produced message is in the Parquet output / the Delta table (read by
  delta-rs) exactly once.
- Metadata and header columns hold each message's key, partition, offset, timestamp and
  headers as the producer's delivery reports say; bad records become dead letters naming
  their partition and offset.
- Keys land on the partition the Java client would choose, on 3 and 12 partitions.
- startup.mode earliest, specific-offsets, timestamp, latest and group-offsets position a
  partition that no checkpoint names.
"""
import contextlib
import glob
import json
import os
import pathlib
import random
import signal
import subprocess
import threading
import time
import uuid

import pyarrow.dataset as ds
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

CHECKPOINT_MS = "200"


def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)
    deadline = time.monotonic() + 30
    while True:
        topic = admin.list_topics(name, timeout=10).topics[name]
        if topic.error is None and len(topic.partitions) == partitions and \
                all(p.leader >= 0 for p in topic.partitions.values()):
            return name
        assert time.monotonic() < deadline, f"topic {name} never got {partitions} partitions"
        time.sleep(0.2)


def consume_all(bootstrap: str, topic: str, expected: int, isolation: str = "read_committed",
                timeout: float = 120) -> list:
    """Every message of the topic from the start, with a fresh group, until `expected`
    arrived and three more seconds bring nothing new."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"judge-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation})
    consumer.subscribe([topic])
    got, quiet_since = [], None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(got) >= expected:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= 3:
                        break
                continue
            quiet_since = None
            if message.error():
                raise KafkaException(message.error())
            got.append(message)
    finally:
        consumer.close()
    return got


def run(binary, ddl, checkpoints, env_extra=None, kill_after=None, timeout=180):
    """Runs the pipeline to its end (or kills it after `kill_after` seconds)."""
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    env.update(env_extra or {})
    cmd = [binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval", CHECKPOINT_MS,
           "--no-status"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL if kill_after is not None else signal.SIGTERM)
        out, _ = proc.communicate()
    return proc.returncode, out.decode(errors="replace")


def run_until(binary, ddl, checkpoints, done, timeout=180):
    """Runs an unbounded pipeline until done() (or done(log_so_far), if it takes an
    argument) holds, then stops it with SIGTERM (a final checkpoint and exit 0)."""
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    proc = subprocess.Popen([binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval",
                             CHECKPOINT_MS, "--no-status"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = []
    reader = threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    takes_log = done.__code__.co_argcount == 1
    try:
        while not (done(b"".join(log).decode(errors="replace")) if takes_log else done()):
            assert proc.poll() is None, f"pipeline exited {proc.returncode}:\n" + b"".join(log).decode(errors="replace")
            assert time.monotonic() < deadline, "timed out:\n" + b"".join(log).decode(errors="replace")
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        reader.join(10)
    return proc.returncode, b"".join(log).decode(errors="replace")


def parquet_rows(path: pathlib.Path) -> list:
    if not path.exists():
        return []
    return ds.dataset(str(path), format="parquet").to_table().to_pylist()


def java_partitions(keys: list, partitions: int) -> list:
    """The Java client's partition for each key: BuiltInPartitioner.partitionForKey from the
    kafka-clients jar the test broker runs on."""
    cache = os.environ.get("LAMINAR_CACHE_DIR", os.path.expanduser("~/.cache/laminar"))
    jars = glob.glob(os.path.join(cache, "kafka-*", "lib", "kafka-clients-*.jar"))
    assert jars, f"no kafka-clients jar under {cache} (scripts/services start kafka fetches it)"
    lib = os.path.dirname(jars[0])
    source = pathlib.Path(__file__).with_name("JavaPlacement.java")
    result = subprocess.run(["java", "-cp", os.path.join(lib, "*"), str(source), str(partitions)],
                            input="\n".join(keys) + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answer = [int(line) for line in result.stdout.split()]
    assert len(answer) == len(keys)
    return answer


# --- (a) datagen -> Kafka, exactly-once under SIGKILL ----------------------------------------

ROWS = 100_000
SINK_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR, amount DOUBLE) FROM DATAGEN (
  'rows-per-second' = '{rate}', 'number-of-rows' = '{rows}', 'fields.id.kind' = 'sequence', seed = '11');
CREATE SINK out FROM events INTO KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'delivery.guarantee' = 'exactly-once',
  'key.column' = 'id', 'linger.ms' = '20', 'compression.type' = 'lz4');
"""

COMMIT_STEPS = [
    "checkpoint.after_drain",
    "checkpoint.after_pre_commit",
    "kafka.pre_commit.after_flush",
    "kafka.pre_commit.after_marker",
    "checkpoint.after_persist",          # decided, not committed: the restart must replay the epoch
    "kafka.commit.before_commit_transaction",
    "kafka.commit.after_commit_transaction",
    "checkpoint.after_commit",
    "checkpoint.after_status_persist",
]


def test_datagen_to_kafka_exactly_once_survives_kills(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 3)
    ddl = tmp_path / "to_kafka.sql"
    ddl.write_text(SINK_DDL.format(rate=5_000, rows=ROWS, bootstrap=kafka_broker, topic=topic))
    checkpoints = tmp_path / "cp"
    kills, replays = 0, 0
    for point in COMMIT_STEPS:
        code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": f"{point}:2"})
        assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log}"
        kills += 1
        replays += "replaying the epoch's input" in log
        if point == "checkpoint.after_persist":
            # The next start replays the lost epoch; die inside that replay, twice, at both of its steps.
            for replay_point in ("replay.after_pre_commit", "replay.after_commit"):
                code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": replay_point})
                assert code == -signal.SIGKILL, f"{replay_point} was not reached (exit {code}):\n{log}"
                assert "replaying the epoch's input" in log, log
                replays += 1
            # After a kill once the replay committed, the marker says so: no third replay.
            code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": "checkpoint.after_drain:1"})
            assert code == -signal.SIGKILL, log
            assert "replaying the epoch's input" not in log, log
            assert "finishing decided epoch" in log, log
    rng = random.Random(5)
    for _ in range(8):
        code, log = run(laminar_connect, ddl, checkpoints, kill_after=rng.uniform(0.5, 2.5))
        assert code in (0, -signal.SIGKILL), log
        kills += code == -signal.SIGKILL
        replays += "replaying the epoch's input" in log
    code, log = run(laminar_connect, ddl, checkpoints)
    assert code == 0, log
    assert replays >= 2 and kills >= len(COMMIT_STEPS) + 5

    committed = consume_all(kafka_broker, topic, ROWS)
    ids = [json.loads(m.value())["id"] for m in committed]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated rows"
    assert sorted(ids) == list(range(ROWS)), f"{ROWS - len(set(ids))} lost rows"
    # Aborted transactions did write to the log (the kills left them open); only read_committed hides them.
    everything = consume_all(kafka_broker, topic, ROWS, isolation="read_uncommitted")
    assert len(everything) > ROWS, "no aborted epoch ever reached the log: the kills proved nothing"
    # Every row is keyed by its id, on the Java client's partition for that key.
    sample = random.Random(1).sample(committed, 2000)
    keys = [m.key().decode() for m in sample]
    assert keys == [str(json.loads(m.value())["id"]) for m in sample]
    assert [m.partition() for m in sample] == java_partitions(keys, 3)


# --- key placement ------------------------------------------------------------------------

@pytest.mark.parametrize("partitions", [3, 12])
def test_key_placement_equals_the_java_client(laminar_connect, kafka_broker, tmp_path, partitions):
    topic = create_topic(kafka_broker, partitions)
    ddl = tmp_path / "keys.sql"
    ddl.write_text(f"""
CREATE SOURCE keys (id BIGINT NOT NULL, k VARCHAR NOT NULL) FROM DATAGEN (
  'rows-per-second' = '0', 'number-of-rows' = '3000', 'fields.id.kind' = 'sequence',
  'fields.k.length' = '12', seed = '3');
CREATE SINK out FROM keys INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'key.column' = 'k');
""")
    code, log = run(laminar_connect, ddl, tmp_path / "cp")
    assert code == 0, log
    messages = consume_all(kafka_broker, topic, 3000)
    assert len(messages) == 3000
    keys = [m.key().decode() for m in messages]
    assert len(set(keys)) > 2900
    assert {m.partition() for m in messages} == set(range(partitions))
    assert [m.partition() for m in messages] == java_partitions(keys, partitions)


# --- (b) Kafka -> files, exactly-once under SIGKILL --------------------------------------------

SOURCE_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'group.id' = '{group}', 'startup.mode' = 'earliest',
  'max.poll.records' = '500',
  -- One process per pipeline: a restart takes the dead member's place at once (and, for
  -- Delta, names the writer: the default writer.id takes the instance id).
  'properties.group.instance.id' = '{group}-1', 'properties.session.timeout.ms' = '6000');
"""

# The sink under test and the commit steps its kills cover (the coordinator's and its own).
SINKS = {
    "files": ("CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');\n",
              ["files.pre_commit.after_sync", "files.commit.mid_rename"]),
    "delta": ("CREATE SINK out FROM events INTO DELTA_LAKE ('table.path' = '{out}');\n",
              ["delta.pre_commit.after_stage", "delta.commit.after_log_write"]),
}


def sink_steps(own: list) -> list:
    return ["checkpoint.after_drain", "checkpoint.after_pre_commit", own[0], "checkpoint.after_persist", own[1],
            "checkpoint.after_first_sink_commit", "checkpoint.after_commit", "checkpoint.after_status_persist"]


def sink_rows(kind: str, path: pathlib.Path) -> list:
    if kind == "files":
        return parquet_rows(path)
    if not (path / "_delta_log").exists():
        return []
    from deltalake import DeltaTable
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


class JsonProducer:
    """Messages {"id": n, "name": ...} with ids 0, 1, 2, ...; safe to call from a feeder
    thread and the test at once (ids stay unique)."""

    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.next_id = 0
        self.lock = threading.Lock()
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})

    def produce(self, count):
        with self.lock:
            for _ in range(count):
                i = self.next_id
                self.producer.produce(self.topic, key=str(i).encode(),
                                      value=json.dumps({"id": i, "name": f"item-{i}"}))
                self.next_id += 1
                if i % 1000 == 0:
                    self.producer.poll(0)
            assert self.producer.flush(30) == 0


@contextlib.contextmanager
def producing(producer, batch, pause=0.05):
    """Messages keep arriving while the body runs."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            producer.produce(batch)
            time.sleep(pause)

    feeder = threading.Thread(target=loop)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()


@pytest.mark.parametrize("sink", ["files", "delta"])
def test_kafka_to_sink_exactly_once_survives_kills(laminar_connect, kafka_broker, tmp_path, sink):
    topic = create_topic(kafka_broker, 3)
    out = tmp_path / "out"
    ddl = tmp_path / "from_kafka.sql"
    sink_ddl, own_steps = SINKS[sink]
    ddl.write_text(SOURCE_DDL.format(bootstrap=kafka_broker, topic=topic, group=f"g-{topic}") +
                   sink_ddl.format(out=out))
    checkpoints = tmp_path / "cp"
    producer = JsonProducer(kafka_broker, topic)
    producer.produce(3000)
    kills = 0
    # Messages keep arriving through every run, so each epoch has rows to commit.
    with producing(producer, 300, pause=0.1):
        for point in sink_steps(own_steps):
            code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": f"{point}:2"}, timeout=60)
            assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log}"
        rng = random.Random(9)
        for _ in range(8):
            code, log = run(laminar_connect, ddl, checkpoints, kill_after=rng.uniform(0.3, 2.0))
            assert code in (0, -signal.SIGKILL), log
            kills += code == -signal.SIGKILL
    assert kills == 8
    total = producer.next_id
    code, log = run_until(laminar_connect, ddl, checkpoints, lambda: len(sink_rows(sink, out)) >= total)
    assert code == 0, log
    rows = sink_rows(sink, out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated messages"
    assert sorted(ids) == list(range(total)), "lost messages"
    assert all(r["name"] == f"item-{r['id']}" for r in rows)
    # The group's committed offsets are the last checkpoint's: the end of every partition.
    consumer = Consumer({"bootstrap.servers": kafka_broker, "group.id": f"g-{topic}"})
    from confluent_kafka import TopicPartition
    committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
    ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(3)]
    consumer.close()
    assert [c.offset for c in committed] == ends


# --- (c) metadata columns and dead letters -----------------------------------------------------

def test_metadata_and_header_columns_describe_each_message(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 2)
    producer = Producer({"bootstrap.servers": kafka_broker, "enable.idempotence": True})
    delivered = {}

    def on_delivery(error, message):
        assert error is None, error
        delivered[json.loads(message.value())["id"]] = (message.partition(), message.offset(),
                                                         message.timestamp()[1])

    for i in range(200):
        headers = [("trace", f"t{i}".encode()), ("trace", b"second")] if i % 2 == 0 else None
        producer.produce(topic, key=f"key-{i % 7}".encode(), value=json.dumps({"id": i, "name": f"n{i}"}),
                         headers=headers, on_delivery=on_delivery, timestamp=1_700_000_000_000 + i)
    # One tombstone: counted as read, no row.
    producer.produce(topic, key=b"gone", value=None, partition=0)
    assert producer.flush(30) == 0
    out = tmp_path / "out"
    ddl = tmp_path / "metadata.sql"
    ddl.write_text(f"""
CREATE SOURCE events (_partition INT, id BIGINT NOT NULL, name VARCHAR,
                      _timestamp TIMESTAMP(3) WITH TIME ZONE) FROM KAFKA (
  'bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'group.id' = 'g-{topic}',
  'include.metadata' = 'true', 'include.headers' = 'true');
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
""")
    code, log = run_until(laminar_connect, ddl, tmp_path / "cp", lambda: len(parquet_rows(out)) >= 200)
    assert code == 0, log
    table = ds.dataset(str(out), format="parquet").to_table()
    # Declared metadata columns keep their place and type; the others are appended.
    assert table.column_names == ["_partition", "id", "name", "_timestamp", "_key", "_offset", "_headers"]
    assert str(table.schema.field("_timestamp").type) == "timestamp[ms, tz=UTC]"
    rows = table.to_pylist()
    assert sorted(r["id"] for r in rows) == list(range(200))
    for r in rows:
        partition, offset, timestamp_ms = delivered[r["id"]]
        assert r["_partition"] == partition and r["_offset"] == offset
        assert int(r["_timestamp"].timestamp() * 1000) == timestamp_ms == 1_700_000_000_000 + r["id"]
        assert r["_key"] == f"key-{r['id'] % 7}"
        if r["id"] % 2 == 0:
            assert r["_headers"] == [{"key": "trace", "value": f"t{r['id']}".encode()},
                                     {"key": "trace", "value": b"second"}]
        else:
            assert r["_headers"] == []


def test_bad_records_become_dead_letters_naming_partition_and_offset(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 1)
    producer = Producer({"bootstrap.servers": kafka_broker})
    for value in [b'{"id": 1, "name": "a"}', b"NOT VALID JSON {{{", b'{"id": 3, "name": "c"}',
                  b'{"id": "four"}', b'{"id": 5, "name": "e"}']:
        producer.produce(topic, key=b"k", value=value)
    assert producer.flush(30) == 0
    out, dead = tmp_path / "out", tmp_path / "dead"
    ddl = tmp_path / "poison.sql"
    ddl.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'group.id' = 'g-{topic}',
  'on.error' = 'dead_letter', 'dead_letter.path' = '{dead}');
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
""")
    def letters():
        found = []
        for f in sorted(dead.glob("*")) if dead.exists() else []:
            if f.is_file() and not f.name.startswith(("_", ".")):
                found += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        return found

    code, log = run_until(laminar_connect, ddl, tmp_path / "cp",
                          lambda: len(parquet_rows(out)) >= 3 and len(letters()) >= 2)
    assert code == 0, log
    assert sorted(r["id"] for r in parquet_rows(out)) == [1, 3, 5]
    found = sorted(letters(), key=lambda d: int(d["offset"]))
    assert [(d["partition"], d["offset"]) for d in found] == [(f"{topic}-0", "1"), (f"{topic}-0", "3")]
    assert all(d["source"] == "events" for d in found)


# --- startup modes ----------------------------------------------------------------------------

def test_startup_modes_position_partitions_without_a_checkpoint(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 1)
    producer = Producer({"bootstrap.servers": kafka_broker})
    base = 1_700_000_000_000

    def produce(ids):
        for i in ids:
            producer.produce(topic, value=json.dumps({"id": i, "name": f"n{i}"}), timestamp=base + i * 1000)
        assert producer.flush(30) == 0

    produce(range(10))

    def pipeline(case, startup):
        out = tmp_path / case / "out"
        ddl = tmp_path / case / "p.sql"
        ddl.parent.mkdir()
        ddl.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'group.id' = 'g-{topic}-{case.split("-")[0]}'{startup});
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
""")
        return ddl, out, tmp_path / case / "cp"

    def ids_of(out):
        return sorted(r["id"] for r in parquet_rows(out))

    cases = [("earliest", ", 'startup.mode' = 'earliest'", list(range(10))),
             ("specific", ", 'startup.specific.offsets' = '0:4'", list(range(4, 10))),
             ("timestamp", f", 'startup.timestamp.ms' = '{base + 7000}'", list(range(7, 10)))]
    for case, startup, expected in cases:
        ddl, out, cp = pipeline(case, startup)
        code, log = run_until(laminar_connect, ddl, cp, lambda: len(parquet_rows(out)) >= len(expected))
        assert code == 0, log
        assert ids_of(out) == expected, case

    # latest: only what arrives after the partition was assigned.
    ddl, out, cp = pipeline("latest", ", 'startup.mode' = 'latest'")
    produced = []

    def after_assignment(log):
        if not produced and "assigned" in log:
            produce(range(10, 15))
            produced.append(True)
        return len(parquet_rows(out)) >= 5

    code, log = run_until(laminar_connect, ddl, cp, after_assignment)
    assert code == 0, log
    assert ids_of(out) == list(range(10, 15))

    # group-offsets (the default): the "earliest" pipeline's group committed its final
    # checkpoint, so a new pipeline in that group (no checkpoint of its own) starts there.
    produce(range(15, 17))
    ddl, out, cp = pipeline("earliest-again", "")
    code, log = run_until(laminar_connect, ddl, cp, lambda: len(parquet_rows(out)) >= 7)
    assert code == 0, log
    assert ids_of(out) == list(range(10, 17))
