"""Dead letters to a Kafka topic (`dead_letter.topic`) against a real Kafka 3.9 broker,
judged by confluent-kafka with isolation.level=read_committed.

- Kafka -> files (Parquet), some messages not JSON or not of the declared types: each bad
  message is in the dead-letter topic exactly once, as Kafka Connect's DLQ keeps it (the
  original key, value bytes and headers) plus laminar.error.* headers naming its topic,
  partition, offset and the error; every good one is a row of the sink.
- The same while messages keep arriving, with SIGKILL at the dead-letter producer's and
  the coordinator's commit steps (a decided epoch whose transaction died is replayed into
  the dead-letter producer) and at random moments: still no dead letter twice, none lost.
- A files source with dead_letter.topic and dead_letter.bootstrap.servers, exactly-once
  and at-least-once.
- A Kafka source on a SASL_SSL (SCRAM-SHA-512) listener: the dead-letter producer shares
  its connection and credentials, which stay masked in the debug output.
- Configuration errors: path and topic together, a files source without brokers.
"""
import json
import random
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from test_kafka_connectors import consume_all, create_topic, parquet_rows, run, run_until
from test_kafka_security import assert_secrets_hidden, consume, options
from test_kafka_security import run as run_debug

# Every bad message must reach the topic: no rate limit in these tests.
SOURCE_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'group.id' = '{group}', 'startup.mode' = 'earliest',
  'max.poll.records' = '200',
  'properties.group.instance.id' = '{group}-1', 'properties.session.timeout.ms' = '6000',
  'on.error' = 'dead_letter', 'dead_letter.topic' = '{dlq}', 'dead_letter.max-per-second' = '0'{extra});
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
"""


class MixedProducer:
    """Messages keyed "k<n>" on every partition; every `bad_every`-th one is not a valid
    row (alternately not JSON and a string id), and some carry headers."""

    def __init__(self, bootstrap, topic, bad_every=5):
        self.topic = topic
        self.bad_every = bad_every
        self.next = 0
        self.good = []     # ids
        self.bad = {}      # (partition, offset) -> (key, value, headers)
        self.pending = {}  # n -> (key, value, headers) until delivered
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})

    def _delivered(self, error, message):
        assert error is None, error
        n = int(message.key().decode()[1:])
        entry = self.pending.pop(n)
        if n % self.bad_every == self.bad_every - 1:
            self.bad[(message.partition(), message.offset())] = entry

    def produce(self, count):
        for _ in range(count):
            n = self.next
            self.next += 1
            key = f"k{n}".encode()
            headers = [("trace", f"t{n}".encode()), ("origin", b"judge")] if n % 3 == 0 else None
            if n % self.bad_every == self.bad_every - 1:
                value = (b"NOT JSON {{{ %d" % n) if (n // self.bad_every) % 2 == 0 else \
                    json.dumps({"id": f"id-{n}", "name": "x"}).encode()
            else:
                value = json.dumps({"id": n, "name": f"item-{n}"}).encode()
                self.good.append(n)
            self.pending[n] = (key, value, headers)
            self.producer.produce(self.topic, key=key, value=value, headers=headers, on_delivery=self._delivered)
            if n % 500 == 0:
                self.producer.poll(0)
        assert self.producer.flush(30) == 0
        assert not self.pending


def headers_of(message) -> list:
    return [(k, v) for k, v in (message.headers() or [])]


def check_dead_letters(letters, producer, topic):
    """Exactly the bad messages, once each, as the producer sent them."""
    by_position = {}
    for m in letters:
        h = dict(headers_of(m))
        position = (int(h["laminar.error.partition"]), int(h["laminar.error.offset"]))
        assert position not in by_position, f"dead letter for {position} twice"
        by_position[position] = m
    missing = set(producer.bad) - set(by_position)
    extra = set(by_position) - set(producer.bad)
    assert not missing, f"{len(missing)} bad messages not dead-lettered, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} dead letters for messages that were not bad, e.g. {sorted(extra)[:5]}"
    for position, m in by_position.items():
        key, value, original_headers = producer.bad[position]
        assert m.key() == key
        assert m.value() == value, "the dead letter's value is not the original bytes"
        headers = headers_of(m)
        own = [(k, v) for k, v in headers if not k.startswith("laminar.error.")]
        assert own == (original_headers or []), "the original headers are not kept in order"
        context = {k: v.decode() for k, v in headers if k.startswith("laminar.error.")}
        assert context["laminar.error.topic"] == topic
        assert context["laminar.error.source"] == "events"
        assert context["laminar.error.connector"] == "kafka"
        assert context["laminar.error.message"], "no error text"
        assert int(context["laminar.error.timestamp"]) > 1_600_000_000_000
        assert "laminar.error.value.truncated" not in context
    return by_position


def metric(metrics: str, connector: str, name: str) -> float:
    """A connector-specific counter from /metrics (0 when absent)."""
    found = re.search(r'^laminar_connector_metric\{[^}]*connector="%s"[^}]*name="%s"\} (\S+)$'
                      % (re.escape(connector), re.escape(name)), metrics, re.M)
    return float(found.group(1)) if found else 0.0


def run_watching_metrics(binary, ddl, checkpoints, done, timeout=180):
    """Runs an unbounded pipeline with --metrics-port until done(metrics_text) holds, then
    stops it with SIGTERM; returns (exit code, log, the last metrics scraped)."""
    proc = subprocess.Popen([binary, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--checkpoint-interval",
                             "200", "--metrics-port", "0", "--no-status"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = []
    reader = threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True)
    reader.start()
    text = lambda: b"".join(log).decode(errors="replace")  # noqa: E731
    deadline = time.monotonic() + timeout
    metrics = ""
    try:
        while True:
            assert proc.poll() is None, f"pipeline exited {proc.returncode}:\n{text()}"
            assert time.monotonic() < deadline, "timed out:\n" + text() + "\n" + metrics
            port = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text())
            if port:
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=5).read().decode()
                if done(metrics):
                    break
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        reader.join(10)
    return proc.returncode, text(), metrics


def check_rows(out, producer):
    ids = [r["id"] for r in parquet_rows(out)]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated rows"
    assert sorted(ids) == sorted(producer.good), "lost rows"


def test_bad_messages_go_to_the_dead_letter_topic_once(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 3)
    dlq = create_topic(kafka_broker, 2)
    producer = MixedProducer(kafka_broker, topic)
    producer.produce(1000)
    out = tmp_path / "out"
    ddl = tmp_path / "dlq.sql"
    ddl.write_text(SOURCE_DDL.format(bootstrap=kafka_broker, topic=topic, group=f"g-{topic}", dlq=dlq, out=out,
                                     extra=""))
    code, log, metrics = run_watching_metrics(
        laminar_connect, ddl, tmp_path / "cp",
        lambda m: len(parquet_rows(out)) >= len(producer.good) and metric(m, "events.dead_letters", "dlq_written") >= 200)
    assert code == 0, log
    check_rows(out, producer)
    letters = consume_all(kafka_broker, dlq, len(producer.bad))
    by_position = check_dead_letters(letters, producer, topic)
    assert len(by_position) == 200
    # Every record once: 800 decoded, 200 dead-lettered, all of them written, none failed.
    assert metric(metrics, "events", "decoded") == 800, metrics
    assert metric(metrics, "events", "dead_lettered") == 200, metrics
    assert metric(metrics, "events", "dlq_dropped") == 0, metrics
    assert metric(metrics, "events.dead_letters", "dlq_written") == 200, metrics
    assert metric(metrics, "events.dead_letters", "dlq_write_failed") == 0, metrics
    # Both kinds of bad message: not JSON, and JSON whose id is not a BIGINT.
    assert any(m.value().startswith(b"NOT JSON") for m in letters)
    assert any(m.value().startswith(b"{") for m in letters)
    # Exactly-once by default: the producer's own transactional.id.
    assert re.search(r"transactional\.id 'laminar-[^']*-events\.dlq'", log), log


def test_dead_letters_exactly_once_across_kills(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 3)
    dlq = create_topic(kafka_broker, 1)
    producer = MixedProducer(kafka_broker, topic, bad_every=4)
    producer.produce(1500)
    out = tmp_path / "out"
    ddl = tmp_path / "dlq.sql"
    ddl.write_text(SOURCE_DDL.format(bootstrap=kafka_broker, topic=topic, group=f"g-{topic}", dlq=dlq, out=out,
                                     extra=""))
    checkpoints = tmp_path / "cp"
    stop = threading.Event()

    def keep_producing():
        while not stop.is_set():
            producer.produce(100)
            time.sleep(0.2)

    feeder = threading.Thread(target=keep_producing)
    feeder.start()
    kills, replays = 0, 0
    try:
        # The dead-letter producer is the only Kafka sink: the kafka.* points are its steps.
        for point in ["kafka.pre_commit.after_flush", "kafka.pre_commit.after_marker", "checkpoint.after_persist",
                      "kafka.commit.before_commit_transaction", "kafka.commit.after_commit_transaction",
                      "checkpoint.after_commit"]:
            code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": f"{point}:3"}, timeout=90)
            assert code == -signal.SIGKILL, f"fault point {point} was not reached (exit {code}):\n{log}"
            kills += 1
            replays += "replaying the epoch's input" in log
        rng = random.Random(17)
        for _ in range(5):
            code, log = run(laminar_connect, ddl, checkpoints, kill_after=rng.uniform(1.0, 3.0))
            assert code in (0, -signal.SIGKILL), log
            kills += code == -signal.SIGKILL
            replays += "replaying the epoch's input" in log
    finally:
        stop.set()
        feeder.join()
    assert kills >= 8
    code, log = run_until(laminar_connect, ddl, checkpoints, lambda: len(parquet_rows(out)) >= len(producer.good))
    assert code == 0, log
    replays += "replaying the epoch's input" in log
    check_rows(out, producer)
    letters = consume_all(kafka_broker, dlq, len(producer.bad))
    check_dead_letters(letters, producer, topic)
    # The kill after the manifest decided an epoch left its dead-letter transaction to be
    # aborted by the restart's fencing: the restart must have replayed it.
    assert replays >= 1
    # Aborted transactions did reach the log; only read_committed hides them.
    everything = consume_all(kafka_broker, dlq, len(producer.bad), isolation="read_uncommitted")
    assert len(everything) > len(producer.bad), "no aborted dead letter ever reached the log: the kills proved nothing"


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_files_source_dead_letters_to_kafka(laminar_connect, kafka_broker, tmp_path, guarantee):
    dlq = create_topic(kafka_broker, 1)
    source = tmp_path / "in"
    source.mkdir()
    lines, bad = [], {}
    for i in range(300):
        if i % 10 == 3:
            line = '{"id": %d, "name": "broken' % i
            bad[i] = line
        else:
            line = json.dumps({"id": i, "name": f"n{i}"})
        lines.append(line)
    (source / "part-000.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    ddl = tmp_path / "files.sql"
    ddl.write_text(f"""
CREATE SOURCE logs (id BIGINT NOT NULL, name VARCHAR) FROM FILES (path = '{source}', format = 'json',
  'on.error' = 'dead_letter', 'dead_letter.topic' = '{dlq}', 'dead_letter.bootstrap.servers' = '{kafka_broker}',
  'dead_letter.properties.linger.ms' = '1', 'dead_letter.max-per-second' = '0',
  'dead_letter.delivery.guarantee' = '{guarantee}');
CREATE SINK out FROM logs INTO FILES (path = '{out}', format = 'parquet');
""")
    code, log = run(laminar_connect, ddl, tmp_path / "cp", timeout=120)
    assert code == 0, log
    assert sorted(r["id"] for r in parquet_rows(out)) == [i for i in range(300) if i not in bad]
    letters = consume_all(kafka_broker, dlq, len(bad))
    assert len(letters) == len(bad)
    # Transactions only for exactly-once: its log has one commit marker per epoch besides the letters.
    judge = Consumer({"bootstrap.servers": kafka_broker, "group.id": "judge"})
    low, high = judge.get_watermark_offsets(TopicPartition(dlq, 0), timeout=30)
    judge.close()
    assert (high - low > len(bad)) == (guarantee == "exactly-once"), (low, high)
    assert sorted(m.value().decode() for m in letters) == sorted(bad.values())
    for m in letters:
        assert m.key() is None
        context = {k: v.decode() for k, v in headers_of(m)}
        assert context["laminar.error.source"] == "logs"
        assert context["laminar.error.connector"] == "files"
        assert context["laminar.error.partition"].endswith("part-000.jsonl")
        assert context["laminar.error.offset"]
        assert "laminar.error.topic" not in context


def test_dead_letter_topic_configuration_errors(laminar_connect, kafka_broker, tmp_path):
    def validate(source_options: str, connector: str = "KAFKA") -> subprocess.CompletedProcess:
        ddl = tmp_path / "bad.sql"
        base = (f"'bootstrap.servers' = '{kafka_broker}', topic = 't', 'group.id' = 'g', "
                if connector == "KAFKA" else f"path = '{tmp_path}', format = 'json', ")
        ddl.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL) FROM {connector} ({base}'on.error' = 'dead_letter', {source_options});
CREATE SINK out FROM events INTO FILES (path = '{tmp_path / "out"}');
""")
        return subprocess.run([laminar_connect, "validate", str(ddl)], capture_output=True, text=True, timeout=60)

    both = validate(f"'dead_letter.topic' = 'd', 'dead_letter.path' = '{tmp_path / 'dead'}'")
    assert both.returncode != 0 and "both set" in both.stderr + both.stdout, both
    no_brokers = validate("'dead_letter.topic' = 'd'", connector="FILES")
    assert no_brokers.returncode != 0
    assert "dead_letter.bootstrap.servers" in no_brokers.stderr + no_brokers.stdout, no_brokers
    weak = validate("'dead_letter.topic' = 'd', 'dead_letter.properties.acks' = '1'")
    assert weak.returncode != 0 and "dead_letter.properties.acks" in weak.stderr + weak.stdout, weak
    fine = validate("'dead_letter.topic' = 'd', 'dead_letter.delivery.guarantee' = 'at-least-once'")
    assert fine.returncode == 0, fine
    # A data sink whose transactional.id is the dead-letter producer's would fence it.
    ddl = tmp_path / "clash.sql"
    ddl.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL) FROM KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = 't',
  'group.id' = 'g', 'on.error' = 'dead_letter', 'dead_letter.topic' = 'd');
CREATE SINK "events.dlq" FROM events INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = 'o',
  'delivery.guarantee' = 'exactly-once');
""")
    clash = subprocess.run([laminar_connect, "validate", str(ddl)], capture_output=True, text=True, timeout=60)
    assert clash.returncode != 0, clash
    assert "is already the transactional.id of the dead-letter producer of source 'events'" in clash.stderr, clash


def test_dead_letter_producer_shares_the_sources_security(laminar_connect, kafka_secure_broker, tmp_path):
    secure = kafka_secure_broker
    settings = secure.security("sasl_ssl", "SCRAM-SHA-512")
    topic = create_topic(secure.bootstrap, 2)
    dlq = create_topic(secure.bootstrap, 1)
    producer = MixedProducer(secure.bootstrap, topic)
    producer.produce(200)
    out = tmp_path / "out"
    ddl = tmp_path / "secure.sql"
    ddl.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA ({options(settings)}, topic = '{topic}',
  'group.id' = 'g-{topic}', 'startup.mode' = 'earliest', 'on.error' = 'dead_letter', 'dead_letter.topic' = '{dlq}',
  'dead_letter.max-per-second' = '0');
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
""")
    code, log = run_debug(laminar_connect, ddl, tmp_path / "cp",
                          done=lambda _: len(parquet_rows(out)) >= len(producer.good) and
                          len(consume(settings, dlq, len(producer.bad), timeout=2)) >= len(producer.bad))
    assert code == 0, log
    # The dead-letter producer went through the secured listener with the source's settings.
    producer_line = "'events.dead_letters' (kafka): producer bootstrap.servers=" + settings["bootstrap.servers"]
    assert producer_line + ", security.protocol=sasl_ssl, sasl.mechanisms=SCRAM-SHA-512" in log, log
    assert_secrets_hidden(log, secure, settings)
    check_rows(out, producer)
    check_dead_letters(consume(settings, dlq, len(producer.bad)), producer, topic)
