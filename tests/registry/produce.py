"""Produce a JSON-lines events file to a Kafka topic through a schema registry.

Each event is produced keyed by its customer_id, in one of three formats:

  avro      Confluent framing (magic byte 0, 4-byte schema id) + Avro binary,
            written by confluent_kafka's AvroSerializer (schema: events.py).
  protobuf  Confluent framing + message index [0] + Protobuf binary, written
            by ProtobufSerializer with a message type built at run time.
  json      the event's input line, unchanged. The Avro schema is registered
            under the topic's value subject anyway, so that garbage messages
            can carry a real schema id.

With --garbage-every N (N >= 2) one garbage message follows every N-1 events
(so N=10 makes 10 % of the messages garbage). Garbage kinds cycle:

  undecodable        b"\\xff\\xfegarbage-<n>": not framed, not JSON.
  unknown_schema_id  magic 0, a schema id the registry does not know, then
                     the payload of the event just before.
  schema_mismatch    magic 0, the real schema id (+ message index 0x00 for
                     protobuf), then bytes that cannot decode with it:
                     Avro (and json): eleven 0xFF then 0x01 (overlong varint);
                     Protobuf: 0x0F 0x0F 0x0F (wire type 7).

Garbage is keyed by the customer of the event just before it. --report
writes {"events", "garbage": {"undecodable", "unknown_schema_id",
"schema_mismatch"}, "schema_id"} once everything is delivered. Exits non-zero
if any message fails delivery.

Usage:
    produce.py --brokers 127.0.0.1:9092 --topic events --registry http://127.0.0.1:8081 \\
        --format avro --input events.jsonl --garbage-every 10 --report report.json
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time

# Keep the source tree free of __pycache__ when importing the sibling module.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import events as ev  # noqa: E402

GARBAGE_KINDS = ("undecodable", "unknown_schema_id", "schema_mismatch")
AVRO_MISMATCH = b"\xff" * 11 + b"\x01"
PROTO_MISMATCH = b"\x0f\x0f\x0f"
UNKNOWN_ID_START = 999_999


def fail(message: str, code: int = 2) -> None:
    print(f"produce: {message}", file=sys.stderr)
    sys.exit(code)


def frame(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def unknown_schema_id(client) -> int:
    """An id the registry answers 404 for."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    sid = UNKNOWN_ID_START
    for _ in range(100):
        try:
            client.get_schema(sid)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return sid
            raise
        sid += 1
    raise RuntimeError("could not find a schema id unknown to the registry")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Produce a JSON-lines events file to Kafka as Avro, Protobuf or JSON, with garbage mixed in."
    )
    parser.add_argument("--brokers", required=True, help="bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--registry", required=True, help="schema registry URL, e.g. http://127.0.0.1:8081")
    parser.add_argument("--registry-user", metavar="USER:PASS", help="basic auth credentials for the registry")
    parser.add_argument("--format", required=True, choices=("avro", "protobuf", "json"))
    parser.add_argument("--input", required=True, help="JSON-lines events file")
    parser.add_argument(
        "--garbage-every",
        type=int,
        default=0,
        metavar="N",
        help="one garbage message after every N-1 events (0 = none, default)",
    )
    parser.add_argument("--report", help="write a JSON report here at the end")
    parser.add_argument(
        "--register-known-types",
        action="store_true",
        help="protobuf: register google/protobuf/timestamp.proto as a reference "
        "instead of skipping it (skip.known.types=false)",
    )
    args = parser.parse_args(argv)

    if args.garbage_every < 0 or args.garbage_every == 1:
        parser.error("--garbage-every must be 0 (none) or at least 2")

    try:
        from confluent_kafka import KafkaException, Producer
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext
    except ImportError as exc:
        fail(f"confluent-kafka with schema-registry extras is needed: {exc}")

    try:
        es = ev.load_events(args.input)
    except ev.EventFileError as exc:
        fail(str(exc))

    started = time.monotonic()
    sr_conf = {"url": args.registry}
    if args.registry_user:
        sr_conf["basic.auth.user.info"] = args.registry_user
    client = SchemaRegistryClient(sr_conf)
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    subject = f"{args.topic}-value"
    schema_str = ev.avro_schema_str(es)

    proto = None
    if args.format == "avro":
        avro_ser = AvroSerializer(client, schema_str, lambda e, _ctx: ev.avro_record(es, e))

        def encode(e):
            return avro_ser(e, ctx)

    elif args.format == "protobuf":
        proto = ev.proto_types(es)
        proto_ser = ProtobufSerializer(
            proto.event_class,
            client,
            {"use.deprecated.format": False, "skip.known.types": not args.register_known_types},
        )

        def encode(e):
            return proto_ser(proto.to_message(e), ctx)

    else:

        def encode(e):
            return e.raw.encode("utf-8")

    # Encode the first event now: this registers the schema (and surfaces
    # registry problems before the producer is involved).
    try:
        first = encode(es.events[0])
        if args.format == "json":
            from confluent_kafka.schema_registry import Schema

            schema_id = client.register_schema(subject, Schema(schema_str, "AVRO"))
        else:
            schema_id = struct.unpack(">I", first[1:5])[0]
        bad_id = unknown_schema_id(client) if args.garbage_every else None
    except SchemaRegistryError as exc:
        fail(f"schema registry at {args.registry}: {exc}", 1)
    except Exception as exc:  # connection refused, a first event that does not encode, ...
        fail(f"registering the schema at {args.registry}: {type(exc).__name__}: {exc}", 1)

    if args.format == "json":
        import io

        import fastavro

        parsed = fastavro.parse_schema(json.loads(schema_str))

        def framed_payload(e):
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, ev.avro_record(es, e))
            return buf.getvalue()

    else:

        def framed_payload(_e):
            # The real encoded event just produced, minus magic byte and id
            # (for protobuf the message index stays in).
            return last_encoded[5:]

    mismatch = frame(schema_id, (b"\x00" + PROTO_MISMATCH) if args.format == "protobuf" else AVRO_MISMATCH)

    delivery_errors: list[str] = []

    def on_delivery(err, _msg):
        if err is not None:
            delivery_errors.append(str(err))

    try:
        producer = Producer(
            {
                "bootstrap.servers": args.brokers,
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "batch.size": 1_000_000,
                "queue.buffering.max.messages": 500_000,
                "queue.buffering.max.kbytes": 1_048_576,
                "compression.type": "none",
                "acks": "all",
                "message.timeout.ms": 60_000,
            }
        )
    except KafkaException as exc:
        fail(f"cannot create producer: {exc}", 1)

    def send(key: bytes, value: bytes) -> None:
        while True:
            try:
                producer.produce(args.topic, value=value, key=key, on_delivery=on_delivery)
                return
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                fail(f"produce to {args.topic}: {exc}", 1)

    garbage = dict.fromkeys(GARBAGE_KINDS, 0)
    produced_events = 0
    every = args.garbage_every
    g_index = 0
    last_encoded = b""
    for i, e in enumerate(es.events):
        try:
            value = first if i == 0 else encode(e)
        except Exception as exc:
            fail(f"{args.input}:{e.line_no}: cannot encode event: {type(exc).__name__}: {exc}", 1)
        key = e.customer_id.encode("utf-8")
        send(key, value)
        produced_events += 1
        last_encoded = value
        if every and produced_events % (every - 1) == 0:
            kind = GARBAGE_KINDS[g_index % len(GARBAGE_KINDS)]
            if kind == "undecodable":
                junk = b"\xff\xfegarbage-" + str(g_index).encode("ascii")
            elif kind == "unknown_schema_id":
                junk = frame(bad_id, framed_payload(e))
            else:
                junk = mismatch
            send(key, junk)
            garbage[kind] += 1
            g_index += 1
        if i % 1000 == 0:
            producer.poll(0)

    remaining = producer.flush(120)
    elapsed = time.monotonic() - started
    total = produced_events + g_index
    if remaining:
        delivery_errors.append(f"{remaining} messages still undelivered after flush")

    report = {"events": produced_events, "garbage": garbage, "schema_id": schema_id}
    if args.report:
        tmp = args.report + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=2)
                fh.write("\n")
            os.replace(tmp, args.report)
        except OSError as exc:
            fail(f"cannot write report {args.report}: {exc.strerror or exc}", 1)

    rate = total / elapsed if elapsed > 0 else float("inf")
    ev_rate = produced_events / elapsed if elapsed > 0 else float("inf")
    print(
        f"produce: {produced_events} {args.format} events + {g_index} garbage "
        f"({garbage['undecodable']} undecodable, {garbage['unknown_schema_id']} unknown schema id, "
        f"{garbage['schema_mismatch']} schema mismatch) to {args.topic}, schema id {schema_id}, "
        f"{elapsed:.2f} s ({rate:.0f} msg/s, {ev_rate:.0f} events/s)"
        + (f", {len(delivery_errors)} DELIVERY ERRORS, first: {delivery_errors[0]}" if delivery_errors else ""),
        file=sys.stderr,
    )
    return 1 if delivery_errors else 0


if __name__ == "__main__":
    sys.exit(main())
