"""A Kafka sink's dead-letter topic (`dlq.topic`) against a real Kafka 3.9 broker, judged by
confluent-kafka with isolation.level=read_committed.

- files (JSON lines) -> Kafka with two rows larger than the sink's message.max.bytes, in
  exactly-once and at-least-once mode: every other row is in the topic exactly once, the
  two oversized ones are in the dead-letter topic with their key, their value and the
  laminar.error.* headers; exactly-once also after a kill between the dead-letter
  producer's pre-commit and the commit (the aborted dead letters stay invisible).
- validate refuses dlq.topic = topic and a dlq.properties.* value the producer refuses.
"""
import json
import signal
import subprocess

import pytest
from confluent_kafka import Consumer, TopicPartition
from test_kafka_connectors import consume_all, create_topic, run

ROWS = 300
OVERSIZED = {123: "x" * 5000, 250: "y" * 4000}


def write_rows(directory):
    directory.mkdir()
    lines = [json.dumps({"id": i, "name": OVERSIZED.get(i, f"n{i}")}) for i in range(ROWS)]
    (directory / "part-000.jsonl").write_text("\n".join(lines) + "\n")


def sink_ddl(source, bootstrap, topic, dlq, guarantee, extra=""):
    return f"""
CREATE SOURCE rows (id BIGINT NOT NULL, name VARCHAR) FROM FILES (path = '{source}', format = 'json');
CREATE SINK out FROM rows INTO KAFKA ('bootstrap.servers' = '{bootstrap}', topic = '{topic}', 'key.column' = 'id',
  'delivery.guarantee' = '{guarantee}', 'properties.message.max.bytes' = '2000', 'dlq.topic' = '{dlq}'{extra});
"""


def headers_of(message) -> dict:
    return {k: v.decode() for k, v in (message.headers() or [])}


def check_topics(bootstrap, topic, dlq, guarantee):
    good = consume_all(bootstrap, topic, ROWS - len(OVERSIZED))
    ids = [json.loads(m.value())["id"] for m in good]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} rows twice"
    assert sorted(ids) == [i for i in range(ROWS) if i not in OVERSIZED]
    letters = consume_all(bootstrap, dlq, len(OVERSIZED))
    assert sorted(int(m.key()) for m in letters) == sorted(OVERSIZED), "not exactly the oversized rows, once each"
    for m in letters:
        row = json.loads(m.value())
        assert row == {"id": int(m.key()), "name": OVERSIZED[int(m.key())]}, "the value is not the row's message"
        h = headers_of(m)
        assert h["laminar.error.code"] == "MSG_SIZE_TOO_LARGE", h
        assert "MSG_SIZE_TOO_LARGE" in h["laminar.error.message"], h
        assert h["laminar.error.message"].startswith("row "), h
        assert h["laminar.error.topic"] == topic
        assert h["laminar.error.sink"] == "out"
        assert h["laminar.error.connector"] == "kafka"
        assert int(h["laminar.error.timestamp"]) > 1_600_000_000_000
        assert "laminar.error.value.truncated" not in h
        # Exactly-once sinks know their epoch; the runtime tells at-least-once sinks none.
        assert ("laminar.error.epoch" in h) == (guarantee == "exactly-once"), h
        if guarantee == "exactly-once":
            assert int(h["laminar.error.epoch"]) >= 1
    return letters


def log_end(bootstrap, topic):
    judge = Consumer({"bootstrap.servers": bootstrap, "group.id": "judge"})
    low, high = judge.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    judge.close()
    return high - low


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_oversized_rows_go_to_the_dead_letter_topic_and_the_others_flow_on(laminar_connect, kafka_broker, tmp_path,
                                                                            guarantee):
    topic = create_topic(kafka_broker, 2)
    dlq = create_topic(kafka_broker, 1)
    write_rows(tmp_path / "in")
    ddl = tmp_path / "sink.sql"
    ddl.write_text(sink_ddl(tmp_path / "in", kafka_broker, topic, dlq, guarantee))
    code, log = run(laminar_connect, ddl, tmp_path / "cp", timeout=120)
    assert code == 0, log
    assert f"rows it cannot deliver go to dead-letter topic '{dlq}'" in log, log
    check_topics(kafka_broker, topic, dlq, guarantee)
    # Exactly-once: the dead letters were written in transactions (commit markers in the log).
    assert (log_end(kafka_broker, dlq) > len(OVERSIZED)) == (guarantee == "exactly-once")
    if guarantee == "exactly-once":
        assert "transactional.id 'laminar-sink-out.dlq'" in log, log


def test_exactly_once_dead_letters_of_a_killed_epoch_stay_invisible(laminar_connect, kafka_broker, tmp_path):
    topic = create_topic(kafka_broker, 2)
    dlq = create_topic(kafka_broker, 1)
    write_rows(tmp_path / "in")
    ddl = tmp_path / "sink.sql"
    ddl.write_text(sink_ddl(tmp_path / "in", kafka_broker, topic, dlq, "exactly-once"))
    checkpoints = tmp_path / "cp"
    # The second time a producer has staged its epoch marker: the dead-letter producer's,
    # right after the data producer's; nothing is committed yet.
    code, log = run(laminar_connect, ddl, checkpoints, {"LAMINAR_FAULT_POINT": "kafka.pre_commit.after_marker:2"},
                    timeout=90)
    assert code == -signal.SIGKILL, f"the fault point was not reached (exit {code}):\n{log}"
    staged = consume_all(kafka_broker, dlq, 1, isolation="read_uncommitted", timeout=20)
    assert len(staged) >= 1, "the killed epoch staged no dead letter: the kill proved nothing"
    assert consume_all(kafka_broker, dlq, 0, timeout=10) == [], "dead letters of an aborted epoch are visible"
    code, log = run(laminar_connect, ddl, checkpoints, timeout=120)
    assert code == 0, log
    check_topics(kafka_broker, topic, dlq, "exactly-once")
    assert len(consume_all(kafka_broker, dlq, 1, isolation="read_uncommitted")) > len(OVERSIZED)


def test_dead_letter_topic_configuration_errors(laminar_connect, kafka_broker, tmp_path):
    def validate(options: str) -> subprocess.CompletedProcess:
        ddl = tmp_path / "bad.sql"
        ddl.write_text(f"""
CREATE SOURCE rows (id BIGINT NOT NULL) FROM FILES (path = '{tmp_path}', format = 'json');
CREATE SINK out FROM rows INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = 'o', {options});
""")
        return subprocess.run([laminar_connect, "validate", str(ddl)], capture_output=True, text=True, timeout=60)

    own = validate("'dlq.topic' = 'o'")
    assert own.returncode != 0 and "is the sink's own topic" in own.stderr + own.stdout, own
    weak = validate("'dlq.topic' = 'd', 'dlq.properties.acks' = '1'")
    assert weak.returncode != 0 and "dlq.properties.acks" in weak.stderr + weak.stdout, weak
    orphan = validate("'dlq.properties.linger.ms' = '1'")
    assert orphan.returncode != 0 and "need 'dlq.topic'" in orphan.stderr + orphan.stdout, orphan
    secret = validate("'dlq.topic' = 'd', 'security.protocol' = 'sasl_plaintext', 'sasl.mechanism' = 'PLAIN', "
                      "'sasl.username' = 'u', 'sasl.password' = 'hunter2-secret', 'dlq.properties.acks' = '0'")
    assert secret.returncode != 0
    assert "hunter2-secret" not in secret.stderr + secret.stdout, secret
    fine = validate("'dlq.topic' = 'd', 'delivery.guarantee' = 'exactly-once'")
    assert fine.returncode == 0, fine
