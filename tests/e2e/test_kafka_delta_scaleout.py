"""Several laminar-connect processes in one Kafka consumer group writing into one Delta
table, against the real broker, each with its own checkpoint directory and writer.id.
delta-rs must then read every produced message exactly once, row for row.

The group's offsets are committed after the Delta commit, as a separate step; what keeps
this exactly-once is that the Delta sink stores the source's next offsets in the same log
entry as the epoch's rows (txn{appId = "kafka-offsets:<group>:<topic>:<partition>"}) and
a member taking a partition over starts at the larger of the group's and the table's
offset; a member whose input was taken over cannot commit rows of it (compare-and-set on
those txn versions).

- Killed: one member dies right after a Delta commit, before its own group commit (the
  fault point checkpoint.after_commit). The survivors start its partitions at the table's
  offsets, not the group's older ones.
- Zombie: one member is SIGSTOPped past session.timeout.ms while its open epoch holds
  rows; the group gives its partitions to the others, which read those rows again from the
  group's offsets. SIGCONTed, it must not commit them a second time (its group commit is
  refused; its Delta commit must be too).
- A Kafka source feeding a Delta sink without a writer.id of its own (nor a
  group.instance.id) is refused: members started from same-named DDL files would share
  the default writer.id and skip each other's epochs.
"""
import os
import signal
import subprocess
import time

import pytest

from delta_support import delta_rows, delta_sink, read_commit, commit_versions, txns_of  # noqa: F401
from test_kafka_connectors import JsonProducer, create_topic, producing
from test_kafka_rebalance import MemberProcess, assert_exactly_once, members_logged

MEMBER_DDL = """
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA (
  'bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'group.id' = '{group}',
  'startup.mode' = 'group-offsets', 'auto.offset.reset' = 'earliest', 'max.poll.records' = '200',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '500');
CREATE SINK out FROM events INTO DELTA_LAKE ('table.path' = '{table}', 'writer.id' = '{writer}');
"""


class Member(MemberProcess):
    """A member reading `topic` into the Delta table, with a writer.id of its own."""

    def __init__(self, binary, tmp_path, name, bootstrap, topic, table, env_extra=None, checkpoint_ms=300):
        super().__init__(binary, tmp_path, name,
                         MEMBER_DDL.format(bootstrap=bootstrap, topic=topic, group=f"g-{topic}", table=table,
                                           writer=f"member-{name}"),
                         env_extra, checkpoint_ms)


def stop_member(member):
    """SIGTERM: a clean stop exits 0. librdkafka 2.0.2 (Debian 12) can abort closing a
    cooperative-sticky consumer whose group is rebalancing before it got its assignment
    (assertion `assignor_state' in rd_kafka_sticky_assignor_state_destroy, librdkafka issue
    4312, fixed in 2.2): the members leave one after another, so a later one may close
    mid-rebalance. That abort comes after the member's last commit; the table is checked
    afterwards. Any other end (a SIGSEGV included) fails."""
    code = member.stop()
    if code == -signal.SIGABRT and "assignor_state" in member.text():
        print(f"member {member.name} aborted in librdkafka while closing its consumer (librdkafka issue 4312)")
        return
    assert code == 0, member.text()


def table_rows(table):
    try:
        return delta_rows(str(table)).num_rows
    except Exception:  # noqa: BLE001  (not created yet, or a commit being written)
        return 0


def wait_for_rows(table, total, members, timeout=120):
    """Until the table holds at least `total` rows (more means duplicates: the check says so)."""
    deadline = time.monotonic() + timeout
    while table_rows(table) < total:
        for m in members:
            assert m.proc.poll() is None, f"member {m.name} exited {m.proc.returncode}"
        assert time.monotonic() < deadline, f"the table holds {table_rows(table)} of {total} rows"
        time.sleep(0.5)


def assert_table_exactly_once(table, total):
    rows = delta_rows(str(table)).to_pylist()
    assert_exactly_once([r["id"] for r in rows], total)
    assert rows == [{"id": i, "name": f"item-{i}"} for i in range(total)]


def stored_offsets(table, group):
    """{appId: version} of the table's offset txns, as of its newest version."""
    out = {}
    for version in commit_versions(table):
        for txn in txns_of(read_commit(table, version)):
            if txn["appId"].startswith(f"kafka-offsets:{group}:"):
                out[txn["appId"]] = txn["version"]
    return out


def test_survivors_start_at_the_offsets_a_killed_member_stored_in_the_table(laminar_connect, delta_sink,
                                                                            kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 6)
    table = tmp_path / "lake"
    producer = JsonProducer(kafka_broker, topic)
    producer.produce(1000)

    def member(name, env_extra=None):
        return Member(laminar_connect, tmp_path, name, kafka_broker, topic, table, env_extra)

    survivors = []
    victim = None
    with producing(producer, 100):
        survivors = [member("a"), member("c")]
        for m in survivors:
            m.wait_for("assigned")
        # The victim dies right after its 8th Delta commit, before its own commit of the
        # group's offsets: the group still points at the start of that epoch.
        victim = member("b", {"LAMINAR_FAULT_POINT": "checkpoint.after_commit:8"})
        victim.wait_for("assigned")
        assert victim.proc.wait(90) == -signal.SIGKILL, victim.text()
        # Past the session timeout (6 s) the group drops the victim and the survivors take
        # its partitions over, while messages keep arriving.
        time.sleep(9)
    total = producer.next_id
    with members_logged(*survivors, victim):
        wait_for_rows(table, total, survivors)
        time.sleep(1.5)  # a few more checkpoints: a duplicate would show now
        for m in survivors:
            stop_member(m)
        assert_table_exactly_once(table, total)
        # The survivors did start the victim's partitions at the table's offsets.
        assert any("stored in the sink with the rows" in m.text() for m in survivors)
        offsets = stored_offsets(table, f"g-{topic}")
        assert len(offsets) == 6, offsets
        assert sum(offsets.values()) == total, offsets


def test_a_zombie_member_does_not_commit_rows_the_group_gave_to_others(laminar_connect, delta_sink,
                                                                       kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 6)
    table = tmp_path / "lake"
    producer = JsonProducer(kafka_broker, topic)
    producer.produce(1000)
    members = []
    with producing(producer, 100):
        members = [Member(laminar_connect, tmp_path, name, kafka_broker, topic, table) for name in ("a", "b", "c")]
        for m in members:
            m.wait_for("assigned")
        zombie = members[1]
        time.sleep(4)  # the three settle, read and commit
        # Frozen with rows in its open epoch, past the session timeout: the others take its
        # partitions over from the group's offsets (the start of that epoch).
        zombie.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(11)
        finally:
            zombie.proc.send_signal(signal.SIGCONT)
        time.sleep(6)  # the zombie wakes up, commits or rolls back, and rejoins
    total = producer.next_id
    with members_logged(*members):
        wait_for_rows(table, total, members)
        time.sleep(1.5)
        for m in members:
            stop_member(m)
        assert_table_exactly_once(table, total)
        assert "assignment lost" in zombie.text() or "another writer took it over" in zombie.text()


def test_a_kafka_source_into_delta_needs_a_writer_id_per_member(laminar_connect, delta_sink, kafka_broker,
                                                                tmp_path):
    topic = create_topic(kafka_broker, 1)
    table = tmp_path / "lake"
    ddl = tmp_path / "shared-name.sql"
    source = (f"CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA ("
              f"'bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'group.id' = 'g-{topic}'{{extra}});\n")
    ddl.write_text(source.format(extra="") + f"CREATE SINK out FROM events INTO DELTA_LAKE ('table.path' = '{table}');\n")
    result = subprocess.run([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp_path / "cp"), "--no-status"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "set 'writer.id'" in result.stdout + result.stderr, result.stdout + result.stderr
    # With static membership the member's group.instance.id makes the default writer.id its own.
    ddl.write_text(source.format(extra=", 'properties.group.instance.id' = 'member-7'") +
                   f"CREATE SINK out FROM events INTO DELTA_LAKE ('table.path' = '{table}');\n")
    proc = subprocess.Popen([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp_path / "cp2"),
                             "--no-status"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        out = b""
        os.set_blocking(proc.stdout.fileno(), False)
        while b"writer.id 'laminar:shared-name:out:member-7'" not in out:
            assert proc.poll() is None, out.decode(errors="replace")
            assert time.monotonic() < deadline, out.decode(errors="replace")
            out += proc.stdout.read() or b""
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
