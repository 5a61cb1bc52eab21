"""The Kafka connectors through secured listeners of a real Kafka 3.9 broker (the
`kafka_secure_broker` fixture: scripts/services.d/kafka.sh with KAFKA_SECURITY=1), judged by
confluent-kafka configured with the same security settings.

- For SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256, SASL_SSL with SCRAM-SHA-512, SSL with
  server authentication, and mutual TLS (a client certificate whose key is encrypted):
  datagen -> Kafka sink (exactly-once), then Kafka source -> Parquet, each row exactly once.
  Both run with --log-level debug: the client configurations they log show the password
  and the key password as ***, and neither secret appears anywhere in the output.
- A DDL error on the line of a secret option stars out its value in the quoted line.
- A wrong SASL password: librdkafka would retry a refused login forever; the sink and the
  source stop at once instead, with a final error that says the broker refused the
  security settings and quotes why (the mechanism's own message); the password is never
  printed.
- A CA that did not sign the broker's certificate: the same, "certificate verify failed";
  an mTLS listener without a client certificate: "bad certificate".
"""
import os
import signal
import subprocess
import threading
import time
import uuid

import pyarrow.dataset as ds
import pytest
from confluent_kafka import Consumer, KafkaException
from test_kafka_connectors import create_topic

ROWS = 400


def options(settings: dict) -> str:
    """A DDL WITH list from connector options."""
    return ", ".join(f"'{key}' = '{value}'" for key, value in settings.items())


def run(binary, ddl, checkpoints, done=None, timeout=120):
    """Runs `laminar-connect --log-level debug run` to its end, or, with done(output so far),
    until that holds and then stops it with SIGTERM. Returns (exit code, whole output)."""
    env = dict(os.environ)
    env.pop("LAMINAR_FAULT_POINT", None)
    proc = subprocess.Popen([binary, "--log-level", "debug", "run", str(ddl), "--checkpoint-dir", str(checkpoints),
                             "--checkpoint-interval", "200", "--no-status"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    finished = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if done is not None and done(b"".join(chunks).decode(errors="replace")):
                finished = True
                break
            time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(10)
    log = b"".join(chunks).decode(errors="replace")
    assert done is None or finished, f"not done after {timeout}s:\n{log[-5000:]}"
    return proc.returncode, log


def consume(settings: dict, topic: str, expected: int, timeout: float = 60) -> list:
    """The committed messages of the topic, read through the secured listener."""
    consumer = Consumer({**settings, "group.id": f"judge-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    got, quiet_since = [], None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(got) >= expected:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= 1.5:
                        break
                continue
            quiet_since = None
            if message.error():
                raise KafkaException(message.error())
            got.append(message)
    finally:
        consumer.close()
    return got


def parquet_ids(path) -> list:
    if not path.exists():
        return []
    table = ds.dataset(str(path), format="parquet").to_table()
    return table.column("id").to_pylist() if "id" in table.column_names else []


def assert_secrets_hidden(log: str, secure, settings: dict) -> None:
    for name in ("sasl.password", "ssl.key.password"):
        if name in settings:
            assert settings[name] not in log, f"the value of {name} is in the output"
            assert f"{name}=***" in log, f"no masked {name} in the debug output"
    assert secure.password not in log and secure.key_password not in log


@pytest.mark.parametrize("listener, mechanism", [
    ("sasl_plaintext", "PLAIN"),
    ("sasl_plaintext", "SCRAM-SHA-256"),
    ("sasl_ssl", "SCRAM-SHA-512"),
    ("ssl", None),
    ("mtls", None),
])
def test_sink_and_source_through_a_secured_listener(laminar_connect, kafka_secure_broker, tmp_path, listener,
                                                   mechanism):
    secure = kafka_secure_broker
    settings = secure.security(listener, mechanism)
    topic = create_topic(secure.bootstrap, 2)

    to_kafka = tmp_path / "to_kafka.sql"
    to_kafka.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM DATAGEN (
  'rows-per-second' = '0', 'number-of-rows' = '{ROWS}', 'fields.id.kind' = 'sequence', seed = '7');
CREATE SINK out FROM events INTO KAFKA ({options(settings)}, topic = '{topic}',
  'delivery.guarantee' = 'exactly-once', 'key.column' = 'id');
""")
    code, log = run(laminar_connect, to_kafka, tmp_path / "cp-sink")
    assert code == 0, log
    assert "producer bootstrap.servers=" + settings["bootstrap.servers"] in log, log
    assert_secrets_hidden(log, secure, settings)
    committed = consume(settings, topic, ROWS)
    ids = sorted(int(m.key()) for m in committed)
    assert ids == list(range(ROWS)), f"{len(ids)} messages, {len(set(ids))} distinct"

    out = tmp_path / "out"
    from_kafka = tmp_path / "from_kafka.sql"
    from_kafka.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL, name VARCHAR) FROM KAFKA ({options(settings)}, topic = '{topic}',
  'group.id' = 'g-{topic}', 'startup.mode' = 'earliest');
CREATE SINK out FROM events INTO FILES (path = '{out}', format = 'parquet');
""")
    code, log = run(laminar_connect, from_kafka, tmp_path / "cp-source", done=lambda _: len(parquet_ids(out)) >= ROWS)
    assert code == 0, log
    assert "consumer bootstrap.servers=" + settings["bootstrap.servers"] in log, log
    assert_secrets_hidden(log, secure, settings)
    assert sorted(parquet_ids(out)) == list(range(ROWS))


def sink_ddl(path, settings, topic):
    """datagen -> Kafka, exactly-once (init_transactions would wait up to 60 s)."""
    path.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL) FROM DATAGEN ('rows-per-second' = '0', 'number-of-rows' = '10');
CREATE SINK out FROM events INTO KAFKA ({options(settings)}, topic = '{topic}',
  'delivery.guarantee' = 'exactly-once');
""")
    return path


def source_ddl(path, settings, topic):
    path.write_text(f"""
CREATE SOURCE events (id BIGINT NOT NULL) FROM KAFKA ({options(settings)}, topic = '{topic}', 'group.id' = 'g-{topic}');
CREATE SINK out FROM events INTO FILES (path = '{path.parent / "out"}', format = 'parquet');
""")
    return path


def test_wrong_password_names_the_authentication_failure_and_hides_the_password(laminar_connect,
                                                                               kafka_secure_broker, tmp_path):
    # librdkafka treats a refused login as transient and would retry forever; the
    # connectors stop at the first one, naming it, well before any timeout.
    secure = kafka_secure_broker
    topic = create_topic(secure.bootstrap, 1)
    wrong = f"wrong-{uuid.uuid4().hex}"
    settings = dict(secure.security("sasl_plaintext", "SCRAM-SHA-256"), **{"sasl.password": wrong})
    started = time.monotonic()
    code, log = run(laminar_connect, sink_ddl(tmp_path / "sink.sql", settings, topic), tmp_path / "cp-sink")
    assert code not in (0, None), log
    assert time.monotonic() - started < 30, "the sink waited for a timeout instead of stopping at the refusal"
    final = final_error(log)
    assert "refused the connection's security settings" in final, log
    assert "Authentication failed during authentication due to invalid credentials with SASL mechanism " \
           "SCRAM-SHA-256" in final, log
    assert "sasl.password=***" in log and wrong not in log and secure.password not in log

    settings = dict(secure.security("sasl_plaintext", "PLAIN"), **{"sasl.password": wrong})
    (tmp_path / "source").mkdir()
    code, log = run(laminar_connect, source_ddl(tmp_path / "source" / "source.sql", settings, topic),
                    tmp_path / "cp-source", timeout=60)
    assert code not in (0, None), log
    final = final_error(log)
    assert "refused the connection's security settings" in final, log
    assert "Invalid username or password" in final, log
    assert "sasl.password=***" in log and wrong not in log and secure.password not in log


def final_error(log):
    """The error the run ended with: a start failure, or the pipeline's failure line."""
    lines = [line for line in log.splitlines()
             if line.startswith("laminar-connect: error:") or "pipeline failed at epoch" in line]
    assert lines, log
    return lines[-1]


def test_a_ca_that_did_not_sign_the_broker_fails_the_certificate_check(laminar_connect, kafka_secure_broker,
                                                                      tmp_path):
    secure = kafka_secure_broker
    topic = create_topic(secure.bootstrap, 1)
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other_ca), "-days", "1", "-subj",
                    "/CN=not-the-brokers-ca"], check=True, capture_output=True)
    settings = dict(secure.security("ssl"), **{"ssl.ca.location": str(other_ca)})
    code, log = run(laminar_connect, sink_ddl(tmp_path / "ca.sql", settings, topic), tmp_path / "cp")
    assert code not in (0, None), log
    assert "certificate verify failed" in final_error(log), log


def test_mtls_listener_refuses_a_client_without_a_certificate(laminar_connect, kafka_secure_broker, tmp_path):
    secure = kafka_secure_broker
    topic = create_topic(secure.bootstrap, 1)
    settings = secure.security("mtls")
    for key in ("ssl.certificate.location", "ssl.key.location", "ssl.key.password"):
        del settings[key]
    code, log = run(laminar_connect, sink_ddl(tmp_path / "mtls.sql", settings, topic), tmp_path / "cp")
    assert code not in (0, None), log
    assert "ssl/tls alert bad certificate" in log, log


def test_a_ddl_error_on_the_line_of_a_secret_does_not_quote_it(laminar_connect, tmp_path):
    ddl = tmp_path / "typo.sql"
    ddl.write_text("""
CREATE SOURCE events (id BIGINT NOT NULL) FROM DATAGEN ('number-of-rows' = '1');
CREATE SINK out FROM events INTO KAFKA ('bootstrap.servers' = '127.0.0.1:1', 'security.protocol' = 'sasl_ssl', 'sasl.mechanism' = 'PLAIN', 'sasl.username' = 'u', 'sasl.password' = 'pw-in-the-ddl', 'ssl.key.password' = 'key-pw', topic = 't', 'no.such.option' = 'x');
""")
    result = subprocess.run([laminar_connect, "validate", str(ddl)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "unknown option 'no.such.option'" in result.stderr, result.stderr
    assert "'sasl.password' = '*************'" in result.stderr and "'ssl.key.password' = '******'" in result.stderr
    assert "pw-in-the-ddl" not in result.stdout + result.stderr and "key-pw" not in result.stdout + result.stderr

