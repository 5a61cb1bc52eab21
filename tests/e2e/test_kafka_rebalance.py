"""Several laminar-connect processes in one consumer group, against the real broker.

- Rebalance: a second member joins while messages keep arriving and later leaves; the
  partitions move twice mid-epoch, and the union of both members' outputs holds every
  message exactly once. A revoked partition is handed over only once the epoch holding
  its rows is committed, with its offsets committed to the group.
"""
import os
import signal
import subprocess
import threading
import time

from test_kafka_connectors import JsonProducer, create_topic, parquet_rows

GROUP_SOURCE_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'group.id' = '{group}',
  'startup.mode' = 'group-offsets', 'auto.offset.reset' = 'earliest', 'max.poll.records' = '200',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '500');
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
"""


class Member:
    """One laminar-connect process of the group, with its own output and checkpoints."""

    def __init__(self, binary, tmp_path, name, bootstrap, topic, group, checkpoint_ms=300):
        self.out = tmp_path / f"out-{name}"
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(GROUP_SOURCE_DDL.format(bootstrap=bootstrap, topic=topic, group=group, out=self.out))
        env = dict(os.environ)
        env.pop("LAMINAR_FAULT_POINT", None)
        self.proc = subprocess.Popen(
            [binary, "run", str(ddl), "--checkpoint-dir", str(tmp_path / f"cp-{name}"),
             "--checkpoint-interval", str(checkpoint_ms), "--no-status"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.log = []
        self.reader = threading.Thread(target=lambda: self.log.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def text(self):
        return b"".join(self.log).decode(errors="replace")

    def wait_for(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.proc.poll() is None, f"member exited {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"'{needle}' never appeared:\n{self.text()}"
            time.sleep(0.2)

    def ids(self):
        return [r["id"] for r in parquet_rows(self.out)]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        code = self.proc.wait(60)
        self.reader.join(10)
        return code


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def assert_exactly_once(ids, total):
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} messages written twice"
    missing = sorted(set(range(total)) - set(ids))
    assert not missing, f"{len(missing)} messages lost, e.g. {missing[:10]}"


def test_partitions_move_between_two_members_without_loss_or_duplicates(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 6)
    group = f"g-{topic}"
    producer = JsonProducer(kafka_broker, topic)
    producer.produce(2000)
    stop = threading.Event()

    def keep_producing():
        while not stop.is_set():
            producer.produce(200)
            time.sleep(0.05)

    feeder = threading.Thread(target=keep_producing)
    feeder.start()
    try:
        first = Member(laminar_connect, tmp_path, "a", kafka_broker, topic, group)
        first.wait_for("assigned")
        wait_until(lambda: len(first.ids()) > 1000, 60, "the first member to write rows")
        # The second member joins: the cooperative assignor moves half the partitions while
        # the first member has rows of them in its open epoch.
        second = Member(laminar_connect, tmp_path, "b", kafka_broker, topic, group)
        second.wait_for("assigned")
        first.wait_for("released")
        written = len(first.ids()) + len(second.ids())
        wait_until(lambda: len(second.ids()) > 500 and len(first.ids()) + len(second.ids()) > written + 1000, 60,
                   "both members to write rows")
        # The second member leaves cleanly: its partitions go back to the first member.
        assert second.stop() == 0, second.text()
        time.sleep(2)
    finally:
        stop.set()
        feeder.join()
    total = producer.next_id
    wait_until(lambda: len(first.ids()) + len(second.ids()) >= total, 120, "every message to be written")
    time.sleep(1)
    assert first.stop() == 0, first.text()
    assert_exactly_once(first.ids() + second.ids(), total)
    # Both members really shared the topic: each wrote rows of partitions the other also had.
    assert len(second.ids()) > 0 and len(first.ids()) > len(second.ids())
