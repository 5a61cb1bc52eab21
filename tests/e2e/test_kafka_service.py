"""The Kafka broker and schema registry that scripts/services starts for the Kafka
connector tests: a real broker that keeps partitions, offsets and transactions, and a
registry that speaks Confluent's REST API. Checked with the reference clients
(confluent-kafka, fastavro), independent of laminar-connect."""
import io
import json
import struct
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from decimal import Decimal

import fastavro
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

SR_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

ORDER_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "laminar.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)
    # Metadata may lag the create by a moment; wait until every partition has a leader.
    deadline = time.monotonic() + 30
    while True:
        topic = admin.list_topics(name, timeout=10).topics[name]
        if topic.error is None and len(topic.partitions) == partitions and \
                all(p.leader == 1 for p in topic.partitions.values()):
            return name
        assert time.monotonic() < deadline, f"topic {name} never got {partitions} led partitions: {topic}"
        time.sleep(0.2)


def consume_all(bootstrap: str, topic: str, expected: int, isolation: str = "read_committed",
                timeout: float = 60) -> list:
    """Reads the topic from the start with a fresh group until `expected` messages came and
    two more seconds bring nothing new."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    quiet_since = None
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(got) >= expected:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= 2:
                        break
                continue
            quiet_since = None
            if message.error():
                raise KafkaException(message.error())
            got.append(message)
    finally:
        consumer.close()
    return got


def registry_request(url: str, method: str = "GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": SR_CONTENT_TYPE, "Accept": SR_CONTENT_TYPE})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_three_partitions_hundred_messages_round_trip(kafka_broker):
    topic = create_topic(kafka_broker, partitions=3)

    producer = Producer({"bootstrap.servers": kafka_broker, "enable.idempotence": True, "acks": "all"})
    delivered, failures = [], []

    def on_delivery(error, message):
        (failures if error else delivered).append(error or (message.partition(), message.offset()))

    for i in range(100):
        producer.produce(topic, key=f"k{i % 10}".encode(), value=f"v{i}".encode(), on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert failures == []
    assert len(delivered) == 100

    messages = consume_all(kafka_broker, topic, expected=100)
    values = [m.value().decode() for m in messages]
    assert sorted(values) == sorted(f"v{i}" for i in range(100))  # every message, once

    by_partition = defaultdict(list)
    for m in messages:
        by_partition[m.partition()].append(m)
    assert set(by_partition) == {0, 1, 2}, "ten keys should hash onto all three partitions"
    for partition, items in by_partition.items():
        # Offsets are dense per partition and match what the producer was told.
        assert [m.offset() for m in items] == list(range(len(items)))
        assert sorted((partition, m.offset()) for m in items) == \
            sorted(d for d in delivered if d[0] == partition)
    # One key always lands on one partition, in the order it was produced.
    for key in {m.key() for m in messages}:
        same_key = [m for m in messages if m.key() == key]
        assert len({m.partition() for m in same_key}) == 1
        assert [int(m.value()[1:]) for m in same_key] == sorted(int(m.value()[1:]) for m in same_key)


def test_aborted_transaction_is_invisible_to_read_committed(kafka_broker):
    topic = create_topic(kafka_broker, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker, "transactional.id": f"tx-{topic}"})
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, value=f"aborted-{i}".encode())
    assert producer.flush(30) == 0  # in the log before the abort, not just dropped from a queue
    producer.abort_transaction(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    committed = [m.value().decode() for m in consume_all(kafka_broker, topic, expected=5)]
    assert committed == [f"committed-{i}" for i in range(5)]
    everything = [m.value().decode() for m in consume_all(kafka_broker, topic, expected=10,
                                                          isolation="read_uncommitted")]
    assert everything == [f"aborted-{i}" for i in range(5)] + [f"committed-{i}" for i in range(5)]


def test_avro_schema_registers_and_reads_back_by_id(schema_registry):
    subject = f"orders-{uuid.uuid4().hex[:8]}-value"
    status, answer = registry_request(f"{schema_registry}/subjects/{subject}/versions", "POST",
                                      {"schema": json.dumps(ORDER_SCHEMA)})
    assert status == 200, answer
    schema_id = answer["id"]
    assert isinstance(schema_id, int) and schema_id > 0

    status, by_id = registry_request(f"{schema_registry}/schemas/ids/{schema_id}")
    assert status == 200, by_id
    assert json.loads(by_id["schema"]) == ORDER_SCHEMA
    assert by_id.get("schemaType", "AVRO") == "AVRO"

    # The same schema again is the same id; the subject has one version.
    status, again = registry_request(f"{schema_registry}/subjects/{subject}/versions", "POST",
                                     {"schema": json.dumps(ORDER_SCHEMA)})
    assert (status, again["id"]) == (200, schema_id)
    assert registry_request(f"{schema_registry}/subjects/{subject}/versions") == (200, [1])
    status, latest = registry_request(f"{schema_registry}/subjects/{subject}/versions/latest")
    assert status == 200 and latest["id"] == schema_id and latest["version"] == 1
    assert json.loads(latest["schema"]) == ORDER_SCHEMA

    # Unknown ids are 404 with Confluent's error code.
    status, missing = registry_request(f"{schema_registry}/schemas/ids/{schema_id + 100000}")
    assert status == 404 and missing["error_code"] == 40403

    # BACKWARD compatibility (the default scripts/services sets): adding an optional field
    # is a new version; changing a field's type is refused.
    evolved = dict(ORDER_SCHEMA, fields=ORDER_SCHEMA["fields"] + [
        {"name": "channel", "type": ["null", "string"], "default": None}])
    status, v2 = registry_request(f"{schema_registry}/subjects/{subject}/versions", "POST",
                                  {"schema": json.dumps(evolved)})
    assert status == 200 and v2["id"] != schema_id
    broken = dict(ORDER_SCHEMA, fields=[{"name": "id", "type": "string"}])
    status, refused = registry_request(f"{schema_registry}/subjects/{subject}/versions", "POST",
                                       {"schema": json.dumps(broken)})
    assert status == 409, refused
    assert registry_request(f"{schema_registry}/subjects/{subject}/versions") == (200, [1, 2])


def test_confluent_framed_avro_through_broker_and_registry(kafka_broker, schema_registry):
    """What the Kafka source with format avro will read: the Confluent wire format (magic
    byte 0, 4-byte big-endian schema id, Avro binary), its schema fetched by id."""
    subject = f"framed-{uuid.uuid4().hex[:8]}-value"
    status, answer = registry_request(f"{schema_registry}/subjects/{subject}/versions", "POST",
                                      {"schema": json.dumps(ORDER_SCHEMA)})
    assert status == 200, answer
    parsed = fastavro.parse_schema(ORDER_SCHEMA)
    rows = [{"id": i, "customer": f"c{i % 7}", "amount": Decimal(i) / 4, "note": None if i % 3 else f"n{i}"}
            for i in range(50)]

    topic = create_topic(kafka_broker, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker, "enable.idempotence": True})
    for row in rows:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, row)
        producer.produce(topic, value=struct.pack(">bI", 0, answer["id"]) + body.getvalue())
    assert producer.flush(30) == 0

    decoded, schemas = [], {}
    for message in consume_all(kafka_broker, topic, expected=len(rows)):
        magic, schema_id = struct.unpack(">bI", message.value()[:5])
        assert magic == 0
        if schema_id not in schemas:
            status, fetched = registry_request(f"{schema_registry}/schemas/ids/{schema_id}")
            assert status == 200, fetched
            schemas[schema_id] = fastavro.parse_schema(json.loads(fetched["schema"]))
        decoded.append(fastavro.schemaless_reader(io.BytesIO(message.value()[5:]), schemas[schema_id]))
    assert decoded == rows
