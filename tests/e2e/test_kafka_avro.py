"""Avro through the schema registry, end to end: laminar-connect's Kafka sink and source
against a real Kafka broker and a real registry (Apicurio's Confluent API, the
`schema_registry` fixture), judged by confluent-kafka's Avro serializer and deserializer
and fastavro.

- The sink registers the schema derived from its columns under the subject its strategy
  names and frames every message with the id it got; the reference deserializer reads
  back the rows the pipeline also wrote to Parquet.
- The source reads messages produced by confluent-kafka's AvroSerializer under two schema
  versions (the second adds a field with a default), fetching each id it has not seen.
- An incompatible schema fails the sink at start naming the subject; schema.compatibility
  set on the subject lets the same schema in.
- A message naming an id the registry does not know is a dead letter with its partition
  and offset; the rows around it arrive.
"""
import io
import json
import struct
import urllib.parse

import fastavro
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from test_kafka_connectors import consume_all, create_topic, parquet_rows, run, run_until
from test_kafka_service import registry_request


def subject_url(registry: str, subject: str) -> str:
    return f"{registry}/subjects/{urllib.parse.quote(subject, safe='')}"


def latest_version(registry: str, subject: str) -> dict:
    status, latest = registry_request(subject_url(registry, subject) + "/versions/latest")
    assert status == 200, (subject, latest)
    return latest


# --- (a) sink: registration under the strategy's subject, readable by the reference clients ------

def test_sink_registers_its_schema_and_writes_confluent_framed_avro(laminar_connect, kafka_broker, schema_registry,
                                                                     tmp_path):
    by_topic, by_record = create_topic(kafka_broker, 2), create_topic(kafka_broker, 1)
    out = tmp_path / "rows"
    ddl = tmp_path / "avro_sink.sql"
    avro = (f"format = 'avro', 'schema.registry.url' = '{schema_registry}', "
            "'format.avro.record.name' = 'Order', 'format.avro.namespace' = 'laminar.e2e'")
    ddl.write_text(f"""
CREATE SOURCE orders (id BIGINT NOT NULL, name VARCHAR, amount DOUBLE, ts TIMESTAMP(3) WITH TIME ZONE) FROM DATAGEN (
  'rows-per-second' = '0', 'number-of-rows' = '300', 'fields.id.kind' = 'sequence', seed = '7');
CREATE SINK by_topic FROM orders INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = '{by_topic}',
  'key.column' = 'id', {avro});
CREATE SINK by_record FROM orders INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = '{by_record}',
  {avro}, 'schema.registry.subject.strategy' = 'topic_record_name');
CREATE SINK rows FROM orders INTO FILES (path = '{out}', format = 'parquet');
""")
    code, log = run(laminar_connect, ddl, tmp_path / "cp")
    assert code == 0, log
    expected = sorted(parquet_rows(out), key=lambda r: r["id"])
    assert [r["id"] for r in expected] == list(range(300))

    # The subjects the strategies name, one version each, the schema derived from the columns.
    topic_subject, record_subject = f"{by_topic}-value", f"{by_record}-laminar.e2e.Order"
    latest = latest_version(schema_registry, topic_subject)
    assert latest["version"] == 1
    schema = json.loads(latest["schema"])
    full_name = schema["name"] if "." in schema["name"] else f'{schema.get("namespace")}.{schema["name"]}'
    assert (schema["type"], full_name) == ("record", "laminar.e2e.Order")
    assert [f["name"] for f in schema["fields"]] == ["id", "name", "amount", "ts"]
    assert schema["fields"][0]["type"] == "long"
    assert schema["fields"][3]["type"] == ["null", {"type": "long", "logicalType": "timestamp-millis"}]
    assert f"subject '{topic_subject}'" in log, log
    record_latest = latest_version(schema_registry, record_subject)
    assert json.loads(record_latest["schema"]) == schema
    assert record_latest["id"] == latest["id"]  # the same schema is the same id in every subject
    status, subjects = registry_request(f"{schema_registry}/subjects")
    assert status == 200 and f"{by_record}-value" not in subjects

    # confluent-kafka's deserializer reads every message back into the rows.
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": schema_registry}))
    messages = consume_all(kafka_broker, by_topic, 300)
    assert len(messages) == 300
    assert {struct.unpack(">bI", m.value()[:5]) for m in messages} == {(0, latest["id"])}
    decoded = sorted((deserializer(m.value(), SerializationContext(by_topic, MessageField.VALUE)) for m in messages),
                     key=lambda r: r["id"])
    assert decoded == expected
    assert {m.key() for m in messages} == {str(i).encode() for i in range(300)}

    # fastavro with the registry's schema reads the other topic's bodies alike.
    parsed = fastavro.parse_schema(json.loads(record_latest["schema"]))
    bodies = [m.value() for m in consume_all(kafka_broker, by_record, 300)]
    assert {struct.unpack(">bI", b[:5]) for b in bodies} == {(0, record_latest["id"])}
    fast = sorted((fastavro.schemaless_reader(io.BytesIO(b[5:]), parsed) for b in bodies), key=lambda r: r["id"])
    assert fast == expected

    # A second run registers nothing new: the subject keeps one version.
    code, log = run(laminar_connect, ddl, tmp_path / "cp2")
    assert code == 0, log
    status, versions = registry_request(subject_url(schema_registry, topic_subject) + "/versions")
    assert (status, versions) == (200, [1])


# --- (b) source: ids fetched from the registry, two schema versions ------------------------------

V1 = {"type": "record", "name": "Reading", "namespace": "laminar.e2e", "fields": [
    {"name": "id", "type": "long"},
    {"name": "name", "type": "string"},
]}
V2 = {"type": "record", "name": "Reading", "namespace": "laminar.e2e", "fields": [
    {"name": "id", "type": "long"},
    {"name": "name", "type": "string"},
    {"name": "score", "type": "double", "default": -1.0},
]}


def avro_producer(kafka_broker, schema_registry, topic, schema):
    client = SchemaRegistryClient({"url": schema_registry})
    serializer = AvroSerializer(client, json.dumps(schema))
    producer = Producer({"bootstrap.servers": kafka_broker, "enable.idempotence": True})

    def produce(rows, partition=0):
        for row in rows:
            value = serializer(row, SerializationContext(topic, MessageField.VALUE))
            producer.produce(topic, value=value, key=str(row["id"]).encode(), partition=partition)
        assert producer.flush(30) == 0

    return producer, produce


def source_ddl(kafka_broker, schema_registry, topic, out, extra=""):
    return f"""
CREATE SOURCE readings (id BIGINT NOT NULL, name VARCHAR, score DOUBLE) FROM KAFKA (
  'bootstrap.servers' = '{kafka_broker}', topic = '{topic}', 'group.id' = 'g-{topic}', 'startup.mode' = 'earliest',
  format = 'avro', 'schema.registry.url' = '{schema_registry}'{extra});
CREATE SINK out FROM readings INTO FILES (path = '{out}', format = 'parquet');
"""


def test_source_reads_avro_serializer_messages_across_schema_versions(laminar_connect, kafka_broker,
                                                                      schema_registry, tmp_path):
    topic = create_topic(kafka_broker, 1)
    _, produce_v1 = avro_producer(kafka_broker, schema_registry, topic, V1)
    produce_v1([{"id": i, "name": f"r{i}"} for i in range(40)])
    _, produce_v2 = avro_producer(kafka_broker, schema_registry, topic, V2)
    produce_v2([{"id": i, "name": f"r{i}", "score": i / 4} for i in range(40, 80)])
    # Interleaved: the decoder switches between the two ids message by message.
    produce_v1([{"id": 80, "name": "r80"}])
    produce_v2([{"id": 81, "name": "r81", "score": 0.25}])
    status, versions = registry_request(subject_url(schema_registry, f"{topic}-value") + "/versions")
    assert (status, versions) == (200, [1, 2])

    out = tmp_path / "out"
    ddl = tmp_path / "avro_source.sql"
    ddl.write_text(source_ddl(kafka_broker, schema_registry, topic, out))
    code, log = run_until(laminar_connect, ddl, tmp_path / "cp", lambda: len(parquet_rows(out)) >= 82)
    assert code == 0, log
    rows = sorted(parquet_rows(out), key=lambda r: r["id"])
    expected = [{"id": i, "name": f"r{i}", "score": None} for i in range(40)]
    expected += [{"id": i, "name": f"r{i}", "score": i / 4} for i in range(40, 80)]
    expected += [{"id": 80, "name": "r80", "score": None}, {"id": 81, "name": "r81", "score": 0.25}]
    assert rows == expected


# --- (c) an incompatible schema fails the sink, naming the subject ---------------------------------

def test_incompatible_schema_fails_the_sink_naming_the_subject(laminar_connect, kafka_broker, schema_registry,
                                                                tmp_path):
    topic = create_topic(kafka_broker, 1)
    subject = f"{topic}-value"
    # The subject's first version (the registry's global level is BACKWARD).
    status, answer = registry_request(subject_url(schema_registry, subject) + "/versions", "POST",
                                      {"schema": json.dumps(V1)})
    assert status == 200, answer

    def pipeline(name, extra=""):
        ddl = tmp_path / f"{name}.sql"
        ddl.write_text(f"""
CREATE SOURCE readings (id BIGINT NOT NULL, name VARCHAR NOT NULL, extra BIGINT NOT NULL) FROM DATAGEN (
  'rows-per-second' = '0', 'number-of-rows' = '10', seed = '1');
CREATE SINK out FROM readings INTO KAFKA ('bootstrap.servers' = '{kafka_broker}', topic = '{topic}',
  format = 'avro', 'schema.registry.url' = '{schema_registry}',
  'format.avro.record.name' = 'Reading', 'format.avro.namespace' = 'laminar.e2e'{extra});
""")
        return run(laminar_connect, ddl, tmp_path / f"cp-{name}")

    # A new field without a default cannot read version 1's data (BACKWARD): refused before
    # a message is written.
    code, log = pipeline("incompatible")
    assert code != 0, log
    assert f"subject '{subject}'" in log and "incompatible" in log, log
    assert "extra" in log, log  # the registry's reason is quoted
    assert registry_request(subject_url(schema_registry, subject) + "/versions") == (200, [1])
    assert consume_all(kafka_broker, topic, 0, timeout=5) == []

    # FORWARD (old readers read new data) on the subject, set with PUT /config, lets it in.
    # (NONE would not do on Apicurio: it drops the subject's rule and the global one applies.)
    code, log = pipeline("forward", ", 'schema.compatibility' = 'forward'")
    assert code == 0, log
    status, config = registry_request(f"{schema_registry}/config/{urllib.parse.quote(subject, safe='')}")
    assert status == 200 and config["compatibilityLevel"] == "FORWARD", config
    assert registry_request(subject_url(schema_registry, subject) + "/versions") == (200, [1, 2])
    assert len(consume_all(kafka_broker, topic, 10)) == 10


# --- (d) an unknown schema id is a record error, handled by on.error -------------------------------

def test_unknown_schema_id_is_a_dead_letter_with_partition_and_offset(laminar_connect, kafka_broker,
                                                                      schema_registry, tmp_path):
    topic = create_topic(kafka_broker, 1)
    producer, produce = avro_producer(kafka_broker, schema_registry, topic, V2)
    produce([{"id": 1, "name": "a", "score": 1.0}])
    # A well-framed message whose id no registry has: offset 1.
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(V2), {"id": 2, "name": "b", "score": 2.0})
    producer.produce(topic, value=struct.pack(">bI", 0, 987_654_321) + body.getvalue(), partition=0)
    assert producer.flush(30) == 0
    produce([{"id": 3, "name": "c", "score": 3.0}])

    out, dead = tmp_path / "out", tmp_path / "dead"
    ddl = tmp_path / "unknown_id.sql"
    ddl.write_text(source_ddl(kafka_broker, schema_registry, topic, out,
                              f", 'on.error' = 'dead_letter', 'dead_letter.path' = '{dead}'"))

    def letters():
        found = []
        for f in sorted(dead.glob("*")) if dead.exists() else []:
            if f.is_file() and not f.name.startswith(("_", ".")):
                found += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        return found

    code, log = run_until(laminar_connect, ddl, tmp_path / "cp", lambda: len(parquet_rows(out)) >= 2 and letters())
    assert code == 0, log
    assert sorted((r["id"], r["score"]) for r in parquet_rows(out)) == [(1, 1.0), (3, 3.0)]
    [letter] = letters()
    assert (letter["partition"], letter["offset"], letter["source"]) == (f"{topic}-0", "1", "readings")
    assert "schema not found: schema ID 987654321" in letter["error"], letter

    # on.error = skip drops it the same way (counted, no row, no letter).
    out2 = tmp_path / "out2"
    ddl.write_text(source_ddl(kafka_broker, schema_registry, topic, out2, ", 'on.error' = 'skip'")
                   .replace(f"'g-{topic}'", f"'g2-{topic}'"))
    code, log = run_until(laminar_connect, ddl, tmp_path / "cp2", lambda: len(parquet_rows(out2)) >= 2)
    assert code == 0, log
    assert sorted(r["id"] for r in parquet_rows(out2)) == [1, 3]
