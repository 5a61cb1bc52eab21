"""Several laminar-connect processes in one consumer group, against the real broker, each
with its own checkpoint directory, reading one topic into one exactly-once Kafka topic
(the sink commits the source's offsets inside its transaction). A read_committed consumer
then sees every message exactly once.

- Rebalance: a second member joins while messages keep arriving and later leaves; the
  partitions move twice mid-epoch. A revoked partition is handed over only once the
  epoch holding its rows is committed, with its offsets committed to the group.
- Discovery: three members; one is killed right after its transaction committed (before
  it could commit the group's offsets itself); the survivors take its partitions over
  after the session timeout. Only the offsets committed in the transaction keep them
  from reading that epoch again.
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time

from test_kafka_connectors import JsonProducer, consume_all, create_topic, producing

MEMBER_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'group.id' = '{group}',
  'startup.mode' = 'group-offsets', 'auto.offset.reset' = 'earliest', 'max.poll.records' = '200',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '500');
CREATE SINK out FROM events INTO KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{out}', 'delivery.guarantee' = 'exactly-once',
  'key.column' = 'id', 'linger.ms' = '5');
"""


class MemberProcess:
    """One laminar-connect process of a consumer group, running `ddl_text` with its own
    checkpoint directory; its output is collected for checks and failure messages."""

    def __init__(self, binary, tmp_path, name, ddl_text, env_extra=None, checkpoint_ms=300):
        self.name = name
        # The DDL file's name is the pipeline's name: each member's ids differ.
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(ddl_text)
        env = dict(os.environ)
        env.pop("LAMINAR_FAULT_POINT", None)
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [binary, "run", str(ddl), "--checkpoint-dir", str(tmp_path / f"cp-{name}"),
             "--checkpoint-interval", str(checkpoint_ms), "--no-status"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.log = []
        self.reader = threading.Thread(target=lambda: self.log.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def text(self):
        return b"".join(self.log).decode(errors="replace")

    def wait_for(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.proc.poll() is None, f"member {self.name} exited {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"'{needle}' never appeared in member {self.name}:\n{self.text()}"
            time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        self.reader.join(10)
        return code


class Member(MemberProcess):
    """A member reading `topic` into the exactly-once Kafka topic `out_topic`."""

    def __init__(self, binary, tmp_path, name, bootstrap, topic, out_topic, env_extra=None, checkpoint_ms=300):
        super().__init__(binary, tmp_path, name,
                         MEMBER_DDL.format(bootstrap=bootstrap, topic=topic, group=f"g-{topic}", out=out_topic),
                         env_extra, checkpoint_ms)


@contextlib.contextmanager
def members_logged(*members):
    """On a failed check, the members' logs go into the failure message."""
    try:
        yield
    except AssertionError as failure:
        logs = "\n".join(f"--- member {m.name}:\n{m.text()[-20000:]}" for m in members)
        raise AssertionError(f"{failure}\n{logs}") from None


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


def rows_out(member):
    """The rows a stopped member wrote, from its closing line."""
    match = re.search(r"stopped cleanly: \d+ rows in, (\d+) rows out", member.text())
    assert match, member.text()
    return int(match.group(1))


def test_partitions_move_between_two_members_without_loss_or_duplicates(laminar_connect, kafka_broker, tmp_path):
    source_topic = create_topic(kafka_broker, 6)
    out_topic = create_topic(kafka_broker, 3)
    producer = JsonProducer(kafka_broker, source_topic)
    producer.produce(2000)

    def member(name):
        return Member(laminar_connect, tmp_path, name, kafka_broker, source_topic, out_topic)

    with producing(producer, 200):
        first = member("a")
        first.wait_for("assigned")
        time.sleep(3)
        # The second member joins: the cooperative assignor moves half the partitions while
        # the first member has rows of them in its open epoch, and (a backlog keeps its polls
        # full) decoded messages held for its next poll.
        producer.produce(50000)
        second = member("b")
        second.wait_for("assigned")
        first.wait_for("revoked")
        time.sleep(4)
        # The second member leaves cleanly: its partitions go back to the first member.
        assert second.stop() == 0, second.text()
        time.sleep(2)
    total = producer.next_id
    with members_logged(first, second):
        messages = consume_all(kafka_broker, out_topic, total, timeout=180)
        assert first.stop() == 0, first.text()
        assert_exactly_once([json.loads(m.value())["id"] for m in messages], total)
        assert len(messages) == total
        # Both members really shared the topic.
        assert rows_out(second) > 0 and rows_out(first) > 0




def test_survivors_take_over_a_killed_members_partitions_exactly_once(laminar_connect, kafka_broker, tmp_path):
    source_topic = create_topic(kafka_broker, 6)
    out_topic = create_topic(kafka_broker, 3)
    producer = JsonProducer(kafka_broker, source_topic)
    producer.produce(1000)

    def member(name, env_extra=None):
        return Member(laminar_connect, tmp_path, name, kafka_broker, source_topic, out_topic, env_extra)

    with producing(producer, 100):
        survivors = [member("a"), member("c")]
        for m in survivors:
            m.wait_for("assigned")
        # The victim dies right after its 15th transaction committed, before its own commit
        # of the group's offsets: only offsets committed inside the transaction keep the
        # survivors from reading that epoch again.
        victim = member("b", {"LAMINAR_FAULT_POINT": "checkpoint.after_commit:15"})
        victim.wait_for("assigned")
        assert victim.proc.wait(90) == -signal.SIGKILL, victim.text()
        # Past the session timeout (6 s) the group drops the victim and the survivors take
        # its partitions over; messages keep arriving meanwhile. Every message of them must
        # then reach the output, so the survivors must have read them.
        time.sleep(10)
    total = producer.next_id
    with members_logged(*survivors, victim):
        messages = consume_all(kafka_broker, out_topic, total, timeout=180)
        for m in survivors:
            assert m.stop() == 0, m.text()
        ids = [json.loads(message.value())["id"] for message in messages]
        assert_exactly_once(ids, total)
        assert len(ids) == total
