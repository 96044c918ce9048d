"""Shared event handling for the schema-registry test helpers.

Reads a JSON-lines events file (one object per line with ``event_id``,
``customer_id``, ``event``, ``timestamp``, optional ``channel`` and an
optional ``properties`` object) and derives, from the whole file:

* an Avro schema (record ``journeyscope.test.Event``) whose ``event`` field is
  an enum of the distinct event names and whose ``properties`` field is a
  nested record with one nullable field per property key seen;
* a Protobuf message type built at run time (no ``protoc``), file
  ``journeyscope_test.proto``, package ``journeyscope.test``, with ``Event`` as
  the first message in the file (message index ``[0]``).

Used by ``produce.py`` and ``avro_file.py``; importable from other helper
scripts placed beside it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

AVRO_NAMESPACE = "journeyscope.test"
PROTO_PACKAGE = "journeyscope.test"
PROTO_FILE_NAME = "journeyscope_test.proto"
TIMESTAMP_PROTO = "google/protobuf/timestamp.proto"

# Names valid for Avro (record/enum/field names, enum symbols) and for
# Protobuf identifiers are the same shape.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

TOP_LEVEL_KEYS = ("event_id", "customer_id", "event", "timestamp", "channel", "properties")


class EventFileError(Exception):
    """An input file that cannot be turned into schema-conforming events."""


@dataclass
class Event:
    """One parsed input line."""

    line_no: int
    raw: str  # the line as read, without its line ending
    event_id: str
    customer_id: str
    event: str
    timestamp_ms: int
    channel: str | None
    properties: dict[str, Any]  # keys with a null value are left out


@dataclass
class EventSet:
    """All events of a file plus what the schemas need to know about them."""

    events: list[Event]
    event_names: list[str]  # sorted, distinct
    property_types: dict[str, str]  # key -> "string" | "double" | "long" | "boolean", sorted by key
    event_is_enum: bool = field(default=True)
    proto_event_is_enum: bool = field(default=True)


def _valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def parse_timestamp_ms(text: str) -> int:
    """ISO-8601 text (``2026-11-01T10:45:19.426Z``) -> integer ms since the epoch.

    Text without an offset is taken as UTC. Sub-millisecond digits are
    truncated, as timestamp-millis and the Avro/Protobuf round trip keep ms.
    """
    if not isinstance(text, str):
        raise ValueError(f"timestamp must be a string, got {type(text).__name__}")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_timestamp_ms(ms: int) -> str:
    """Integer ms since the epoch -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _value_kind(key: str, value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        if not _LONG_MIN <= value <= _LONG_MAX:
            raise EventFileError(f"{where}: property {key!r} = {value} does not fit a 64-bit long")
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    raise EventFileError(
        f"{where}: property {key!r} has a {type(value).__name__} value; "
        "only strings, numbers and booleans are supported"
    )


def _require_str(obj: dict, key: str, where: str) -> str:
    if key not in obj:
        raise EventFileError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, str):
        raise EventFileError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def load_events(path: str) -> EventSet:
    """Read and validate a JSON-lines events file. Blank lines are skipped."""
    events: list[Event] = []
    kinds: dict[str, set[str]] = {}
    try:
        fh = open(path, "r", encoding="utf-8")
    except OSError as exc:
        raise EventFileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with fh:
        for line_no, line in enumerate(fh, start=1):
            raw = line.rstrip("\r\n")
            if not raw.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise EventFileError(f"{where}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise EventFileError(f"{where}: expected a JSON object")
            event_id = _require_str(obj, "event_id", where)
            customer_id = _require_str(obj, "customer_id", where)
            name = _require_str(obj, "event", where)
            ts_text = _require_str(obj, "timestamp", where)
            try:
                ts_ms = parse_timestamp_ms(ts_text)
            except ValueError as exc:
                raise EventFileError(f"{where}: bad timestamp {ts_text!r}: {exc}") from exc
            channel = obj.get("channel")
            if channel is not None and not isinstance(channel, str):
                raise EventFileError(f"{where}: field 'channel' must be a string or null")
            props_in = obj.get("properties")
            if props_in is None:
                props_in = {}
            if not isinstance(props_in, dict):
                raise EventFileError(f"{where}: field 'properties' must be an object")
            props: dict[str, Any] = {}
            for key, value in props_in.items():
                if not _valid_name(key):
                    raise EventFileError(
                        f"{where}: property key {key!r} is not a valid Avro/Protobuf field name"
                    )
                kinds.setdefault(key, set())
                if value is None:
                    continue
                kinds[key].add(_value_kind(key, value, where))
                props[key] = value
            events.append(Event(line_no, raw, event_id, customer_id, name, ts_ms, channel, props))

    if not events:
        raise EventFileError(f"{path}: no events")

    property_types: dict[str, str] = {}
    for key in sorted(kinds):
        seen = kinds[key]
        if not seen:
            property_types[key] = "string"  # only nulls seen
        elif len(seen) == 1:
            property_types[key] = next(iter(seen))
        elif seen == {"long", "double"}:
            property_types[key] = "double"
        else:
            raise EventFileError(f"{path}: property {key!r} has mixed value types {sorted(seen)}")

    names = sorted({e.event for e in events})
    es = EventSet(events, names, property_types)
    es.event_is_enum = all(_valid_name(n) for n in names)
    reserved = {"Event", "Properties", "EventType", "EVENT_TYPE_UNSPECIFIED"}
    es.proto_event_is_enum = es.event_is_enum and not (reserved & set(names))
    # Property values that were ints in a double-typed key become floats.
    for key, kind in property_types.items():
        if kind == "double":
            for e in events:
                if key in e.properties:
                    e.properties[key] = float(e.properties[key])
    return es


# --------------------------------------------------------------------------- Avro


def avro_schema(es: EventSet) -> dict:
    """The Avro schema (as a JSON-able dict) for the events."""
    if es.event_is_enum:
        event_type: Any = {"type": "enum", "name": "EventType", "symbols": list(es.event_names)}
    else:
        event_type = "string"
    prop_fields = [
        {"name": key, "type": ["null", kind], "default": None} for key, kind in es.property_types.items()
    ]
    return {
        "type": "record",
        "name": "Event",
        "namespace": AVRO_NAMESPACE,
        "fields": [
            {"name": "event_id", "type": "string"},
            {"name": "customer_id", "type": "string"},
            {"name": "event", "type": event_type},
            {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "channel", "type": ["null", "string"], "default": None},
            {
                "name": "properties",
                "type": {"type": "record", "name": "Properties", "fields": prop_fields},
            },
        ],
    }


def avro_schema_str(es: EventSet) -> str:
    """The Avro schema as compact JSON text (what gets registered)."""
    return json.dumps(avro_schema(es), separators=(",", ":"))


def avro_record(es: EventSet, e: Event) -> dict:
    """The dict fastavro writes for one event (timestamp as int ms)."""
    return {
        "event_id": e.event_id,
        "customer_id": e.customer_id,
        "event": e.event,
        "timestamp": e.timestamp_ms,
        "channel": e.channel,
        "properties": {key: e.properties.get(key) for key in es.property_types},
    }


def avro_record_to_plain(rec: dict) -> dict:
    """A decoded Avro record -> the plain comparable form (see ``Event.plain``)."""
    ts = rec["timestamp"]
    if isinstance(ts, datetime):
        delta = ts - _EPOCH
        ts = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    props = {k: v for k, v in (rec.get("properties") or {}).items() if v is not None}
    return {
        "event_id": rec["event_id"],
        "customer_id": rec["customer_id"],
        "event": rec["event"],
        "timestamp_ms": ts,
        "channel": rec.get("channel"),
        "properties": props,
    }


def event_plain(e: Event) -> dict:
    """An input event in the plain comparable form used by the checks."""
    return {
        "event_id": e.event_id,
        "customer_id": e.customer_id,
        "event": e.event,
        "timestamp_ms": e.timestamp_ms,
        "channel": e.channel,
        "properties": dict(e.properties),
    }


# ----------------------------------------------------------------------- Protobuf


@dataclass
class ProtoTypes:
    """The run-time Protobuf types for one EventSet."""

    pool: Any  # google.protobuf.descriptor_pool.DescriptorPool
    file_proto: Any  # descriptor_pb2.FileDescriptorProto
    event_class: type
    event_numbers: dict[str, int]  # event name -> enum number (empty if event is a string)

    def to_message(self, e: Event):
        msg = self.event_class()
        msg.event_id = e.event_id
        msg.customer_id = e.customer_id
        if self.event_numbers:
            msg.event = self.event_numbers[e.event]
        else:
            msg.event = e.event
        msg.timestamp.seconds = e.timestamp_ms // 1000
        msg.timestamp.nanos = (e.timestamp_ms % 1000) * 1_000_000
        if e.channel is not None:
            msg.channel = e.channel
        props = msg.properties
        props.SetInParent()
        for key, value in e.properties.items():
            setattr(props, key, value)
        return msg

    def to_plain(self, msg) -> dict:
        if self.event_numbers:
            names = {v: k for k, v in self.event_numbers.items()}
            event = names.get(msg.event, f"<enum {msg.event}>")
        else:
            event = msg.event
        props = {}
        for fd in msg.properties.DESCRIPTOR.fields:
            if msg.properties.HasField(fd.name):
                props[fd.name] = getattr(msg.properties, fd.name)
        return {
            "event_id": msg.event_id,
            "customer_id": msg.customer_id,
            "event": event,
            "timestamp_ms": msg.timestamp.seconds * 1000 + msg.timestamp.nanos // 1_000_000,
            "channel": msg.channel if msg.HasField("channel") else None,
            "properties": props,
        }


def proto_file(es: EventSet):
    """The FileDescriptorProto (proto3) for the events, as protoc would emit it."""
    from google.protobuf import descriptor_pb2

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.name = PROTO_FILE_NAME
    fdp.package = PROTO_PACKAGE
    fdp.syntax = "proto3"
    fdp.dependency.append(TIMESTAMP_PROTO)

    def add_field(msg, name, number, ftype, type_name=None, optional=False):
        fld = msg.field.add()
        fld.name = name
        fld.number = number
        fld.label = F.LABEL_OPTIONAL
        fld.type = ftype
        fld.json_name = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
        if type_name:
            fld.type_name = type_name
        if optional:
            # proto3 `optional`: a synthetic oneof named "_<field>", declared
            # after any real oneof (there are none here).
            fld.proto3_optional = True
            fld.oneof_index = len(msg.oneof_decl)
            msg.oneof_decl.add().name = "_" + name

    # Event must be the first message: its message index is then [0].
    event = fdp.message_type.add()
    event.name = "Event"
    add_field(event, "event_id", 1, F.TYPE_STRING)
    add_field(event, "customer_id", 2, F.TYPE_STRING)
    if es.proto_event_is_enum:
        add_field(event, "event", 3, F.TYPE_ENUM, f".{PROTO_PACKAGE}.EventType")
    else:
        add_field(event, "event", 3, F.TYPE_STRING)
    add_field(event, "timestamp", 4, F.TYPE_MESSAGE, ".google.protobuf.Timestamp")
    add_field(event, "channel", 5, F.TYPE_STRING, optional=True)
    add_field(event, "properties", 6, F.TYPE_MESSAGE, f".{PROTO_PACKAGE}.Properties")

    props = fdp.message_type.add()
    props.name = "Properties"
    kinds = {"string": F.TYPE_STRING, "double": F.TYPE_DOUBLE, "long": F.TYPE_INT64, "boolean": F.TYPE_BOOL}
    for number, (key, kind) in enumerate(es.property_types.items(), start=1):
        add_field(props, key, number, kinds[kind], optional=True)

    if es.proto_event_is_enum:
        enum = fdp.enum_type.add()
        enum.name = "EventType"
        v = enum.value.add()
        v.name = "EVENT_TYPE_UNSPECIFIED"
        v.number = 0
        for number, name in enumerate(es.event_names, start=1):
            v = enum.value.add()
            v.name = name
            v.number = number
    return fdp


def proto_types(es: EventSet) -> ProtoTypes:
    """Build the Protobuf Event class in a private descriptor pool."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

    pool = descriptor_pool.DescriptorPool()
    ts_proto = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts_proto)
    pool.Add(ts_proto)
    fdp = proto_file(es)
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName(f"{PROTO_PACKAGE}.Event")
    cls = message_factory.GetMessageClass(desc)
    numbers = {n: i for i, n in enumerate(es.event_names, start=1)} if es.proto_event_is_enum else {}
    return ProtoTypes(pool, fdp, cls, numbers)


def describe(es: EventSet) -> str:
    """A one-line description of what was inferred."""
    kinds = ", ".join(f"{k}:{v}" for k, v in es.property_types.items())
    return (
        f"{len(es.events)} events, {len(es.event_names)} event names "
        f"({'enum' if es.event_is_enum else 'string'}), properties {{{kinds}}}"
    )


def iter_plain(es: EventSet) -> Iterable[dict]:
    for e in es.events:
        yield event_plain(e)
