"""A small Confluent Schema Registry-compatible HTTP server for tests.

Standard library only. Binds to 127.0.0.1 and keeps everything in memory.
It implements the part of the REST API that the confluent-kafka Python client
and the common Rust clients use:

    POST /subjects/{subject}/versions           register -> {"id": N}
    POST /subjects/{subject}                    look a schema up under a subject
    GET  /subjects                              ["subject", ...]
    GET  /subjects/{subject}/versions           [1, 2, ...]
    GET  /subjects/{subject}/versions/{v}       v = number, "latest" or -1
    GET  /subjects/{subject}/versions/{v}/schema   the schema text alone
    GET  /schemas/ids/{id}                      {"schema", "schemaType"?, "references"?}
    GET  /schemas/ids/{id}/schema               the schema text alone
    GET  /schemas/ids/{id}/versions             [{"subject", "version"}, ...]
    GET  /schemas/ids/{id}/subjects             ["subject", ...]
    GET  /schemas/types                         ["AVRO", "PROTOBUF", "JSON"]
    GET  /config, /config/{subject}             {"compatibilityLevel": "BACKWARD"}
    PUT  /config, /config/{subject}             echoes the body
    GET  /mode, /mode/{subject}                 {"mode": "READWRITE"}
    POST /compatibility/subjects/{s}/versions/{v}   {"is_compatible": true}
    GET  /associations/...                      [] (no topic-subject associations)

Ids start at 1. The same schema text, type and references registered again,
under any subject, get the same id; a schema new to a subject becomes that
subject's next version. "schemaType" is left out for AVRO and "references"
when empty, as the real registry does. Schemas are stored as given: a
Protobuf schema sent as a base64 FileDescriptorProto is returned as that
base64 text (the real registry would return .proto source unless asked for
format=serialized). Query parameters (normalize, format, subject, deleted,
...) are accepted and ignored. Subjects may be URL-encoded, including "/".

Errors are JSON {"error_code": N, "message": "..."} with the registry's codes
(40401 subject not found, 40402 version not found, 40403 schema not found,
42201 invalid schema, 42202 invalid version, 401 unauthorized, 404 other).

Usage:
    registry.py --port 0 --port-file /tmp/reg.port [--user USER:PASS] [--log FILE]
                [--delay SECONDS] [--fail STATUS] [--pad BYTES]

--delay, --fail and --pad misbehave on purpose when a schema is read by id
(GET /schemas/ids/...), for the tests of a slow, failing or flooding registry.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SCHEMA_TYPES = ("AVRO", "PROTOBUF", "JSON")
MAX_BODY = 64 * 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(message: str = "HTTP 404 Not Found") -> ApiError:
    return ApiError(404, 404, message)


class Store:
    """The registry's state. Every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.schemas: list[dict] = []  # index id-1 -> {"schema", "schemaType", "references"}
        self.by_key: dict[tuple, int] = {}  # (type, text, refs) -> id
        self.subjects: dict[str, list[int]] = {}  # subject -> ids, index version-1

    @staticmethod
    def _parse_schema_body(body) -> tuple[str, str, list[dict]]:
        if not isinstance(body, dict):
            raise ApiError(422, 42201, "Invalid schema: request body must be a JSON object")
        text = body.get("schema")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, 42201, "Empty schema")
        stype = body.get("schemaType") or "AVRO"
        if not isinstance(stype, str) or stype.upper() not in SCHEMA_TYPES:
            raise ApiError(422, 42201, f"Invalid schema type {stype!r}")
        stype = stype.upper()
        refs_in = body.get("references") or []
        if not isinstance(refs_in, list):
            raise ApiError(422, 42201, "Invalid schema: references must be a list")
        refs = []
        for ref in refs_in:
            if (
                not isinstance(ref, dict)
                or not isinstance(ref.get("name"), str)
                or not isinstance(ref.get("subject"), str)
                or not isinstance(ref.get("version"), int)
                or isinstance(ref.get("version"), bool)
            ):
                raise ApiError(422, 42201, f"Invalid schema: bad reference {ref!r}")
            refs.append({"name": ref["name"], "subject": ref["subject"], "version": ref["version"]})
        if stype in ("AVRO", "JSON"):
            try:
                json.loads(text)
            except ValueError as exc:
                raise ApiError(422, 42201, f"Invalid schema: not valid JSON ({exc})") from None
        return text, stype, refs

    @staticmethod
    def _key(text: str, stype: str, refs: list[dict]) -> tuple:
        return (stype, text, tuple((r["name"], r["subject"], r["version"]) for r in refs))

    def _check_refs(self, refs: list[dict]) -> None:
        for ref in refs:
            versions = self.subjects.get(ref["subject"])
            version = ref["version"]
            if versions and version == -1:
                continue
            if not versions or not 1 <= version <= len(versions):
                raise ApiError(
                    422,
                    42201,
                    f"Invalid schema: reference {ref['name']!r} to subject {ref['subject']!r} "
                    f"version {version} not found",
                )

    def register(self, subject: str, body) -> dict:
        text, stype, refs = self._parse_schema_body(body)
        with self.lock:
            self._check_refs(refs)
            key = self._key(text, stype, refs)
            sid = self.by_key.get(key)
            if sid is None:
                self.schemas.append({"schema": text, "schemaType": stype, "references": refs})
                sid = len(self.schemas)
                self.by_key[key] = sid
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return {"id": sid}

    def lookup(self, subject: str, body) -> dict:
        text, stype, refs = self._parse_schema_body(body)
        with self.lock:
            versions = self.subjects.get(subject)
            if versions is None:
                raise ApiError(404, 40401, f"Subject '{subject}' not found.")
            sid = self.by_key.get(self._key(text, stype, refs))
            if sid is None or sid not in versions:
                raise ApiError(404, 40403, "Schema not found")
            return self._version_obj(subject, versions.index(sid) + 1, sid)

    def _schema_obj(self, sid: int) -> dict:
        s = self.schemas[sid - 1]
        out = {"schema": s["schema"]}
        if s["schemaType"] != "AVRO":
            out["schemaType"] = s["schemaType"]
        if s["references"]:
            out["references"] = [dict(r) for r in s["references"]]
        return out

    def _version_obj(self, subject: str, version: int, sid: int) -> dict:
        out = {"subject": subject, "version": version, "id": sid}
        out.update(self._schema_obj(sid))
        return out

    def _get_id(self, sid_text: str) -> int:
        try:
            sid = int(sid_text)
        except ValueError:
            raise not_found() from None
        if not 1 <= sid <= len(self.schemas):
            raise ApiError(404, 40403, f"Schema {sid} not found")
        return sid

    def schema_by_id(self, sid_text: str) -> dict:
        with self.lock:
            return self._schema_obj(self._get_id(sid_text))

    def id_versions(self, sid_text: str) -> list[dict]:
        with self.lock:
            sid = self._get_id(sid_text)
            return [
                {"subject": subj, "version": versions.index(sid) + 1}
                for subj, versions in sorted(self.subjects.items())
                if sid in versions
            ]

    def id_subjects(self, sid_text: str) -> list[str]:
        return [v["subject"] for v in self.id_versions(sid_text)]

    def subject_list(self) -> list[str]:
        with self.lock:
            return sorted(self.subjects)

    def versions(self, subject: str) -> list[int]:
        with self.lock:
            versions = self.subjects.get(subject)
            if versions is None:
                raise ApiError(404, 40401, f"Subject '{subject}' not found.")
            return list(range(1, len(versions) + 1))

    def version(self, subject: str, version_text: str) -> dict:
        with self.lock:
            versions = self.subjects.get(subject)
            if version_text in ("latest", "-1"):
                if not versions:
                    raise ApiError(404, 40401, f"Subject '{subject}' not found.")
                return self._version_obj(subject, len(versions), versions[-1])
            try:
                version = int(version_text)
            except ValueError:
                version = 0
            if version < 1:
                raise ApiError(
                    422,
                    42202,
                    f"The specified version '{version_text}' is not a valid version id. "
                    "Allowed values are between [1, 2^31-1] and the string \"latest\"",
                )
            if versions is None:
                raise ApiError(404, 40401, f"Subject '{subject}' not found.")
            if version > len(versions):
                raise ApiError(404, 40402, f"Version {version} not found.")
            return self._version_obj(subject, version, versions[version - 1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer each response and send it in one go with Nagle off: headers and
    # body written separately would stall every keep-alive request ~40 ms on
    # the client's delayed ACK.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "journeyscope-test-registry/1"
    # Set on the class by main().
    store: Store
    credentials: bytes | None = None  # b"user:pass"
    # Misbehaving on purpose, for reading schemas by id (GET /schemas/ids/...):
    # wait this many seconds first, answer with this status instead, or pad
    # the JSON answer with this many spaces.
    delay: float = 0.0
    fail: int | None = None
    pad: int = 0
    log_file = None
    log_lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by http.server
        pass  # quiet by default; --log writes its own lines

    # --------------------------------------------------------------- plumbing

    def _send(self, status: int, payload, raw_text: bool = False) -> None:
        if raw_text:
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload).encode("utf-8")
        if self.pad and self._by_id():
            data = data + b" " * self.pad
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="schema-registry"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _error(self, err: ApiError) -> None:
        self._send(err.status, {"error_code": err.code, "message": err.message})

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ApiError(413, 413, "Request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, 413, "Request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, data: bytes):
        if not data:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, 400, f"Invalid JSON body: {exc}") from None

    def _authorized(self) -> bool:
        if self.credentials is None:
            return True
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, self.credentials)

    def _log(self) -> None:
        if self.log_file is None:
            return
        auth = "auth" if self.headers.get("Authorization") else "no-auth"
        line = f"{self.command} {self.path} {auth}\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()

    def _by_id(self) -> bool:
        return self.command == "GET" and self.path.startswith("/schemas/ids/")

    def _handle(self) -> None:
        self._log()
        if self._by_id():
            if self.delay:
                time.sleep(self.delay)
            if self.fail is not None:
                self._error(ApiError(self.fail, self.fail * 100 + 1, "Failing on purpose"))
                return
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._error(ApiError(400, 400, "Malformed request body"))
            return
        except ApiError as err:
            self.close_connection = True
            self._error(err)
            return
        if not self._authorized():
            self._error(ApiError(401, 401, "Unauthorized"))
            return
        try:
            status, payload, raw = self._route(self.command, body)
        except ApiError as err:
            self._error(err)
            return
        except Exception as exc:  # keep serving; report as the registry would
            self._error(ApiError(500, 50001, f"Internal error: {type(exc).__name__}: {exc}"))
            return
        self._send(status, payload, raw_text=raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    # ----------------------------------------------------------------- routes

    def _route(self, method: str, body: bytes):
        raw_path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(p) for p in raw_path.split("/")]
        parts = [p for p in parts[1:]]
        while parts and parts[-1] == "":
            parts.pop()
        store = self.store
        n = len(parts)
        head = parts[0] if parts else ""

        if head == "subjects":
            if n == 1 and method == "GET":
                return 200, store.subject_list(), False
            if n == 2 and method == "POST":
                return 200, store.lookup(parts[1], self._json_body(body)), False
            if n == 3 and parts[2] == "versions":
                if method == "POST":
                    return 200, store.register(parts[1], self._json_body(body)), False
                if method == "GET":
                    return 200, store.versions(parts[1]), False
            if n == 4 and parts[2] == "versions" and method == "GET":
                return 200, store.version(parts[1], parts[3]), False
            if n == 5 and parts[2] == "versions" and parts[4] == "schema" and method == "GET":
                return 200, store.version(parts[1], parts[3])["schema"], True
        elif head == "schemas":
            if n == 2 and parts[1] == "types" and method == "GET":
                return 200, list(SCHEMA_TYPES), False
            if n >= 3 and parts[1] == "ids" and method == "GET":
                if n == 3:
                    return 200, store.schema_by_id(parts[2]), False
                if n == 4 and parts[3] == "schema":
                    return 200, store.schema_by_id(parts[2])["schema"], True
                if n == 4 and parts[3] == "versions":
                    return 200, store.id_versions(parts[2]), False
                if n == 4 and parts[3] == "subjects":
                    return 200, store.id_subjects(parts[2]), False
        elif head == "config" and n in (1, 2):
            if method == "GET":
                return 200, {"compatibilityLevel": "BACKWARD"}, False
            if method == "PUT":
                payload = self._json_body(body)
                return 200, payload if payload is not None else {}, False
        elif head == "mode" and n in (1, 2) and method == "GET":
            return 200, {"mode": "READWRITE"}, False
        elif head == "associations" and method == "GET":
            # Newer clients look up topic->subject associations first and fall
            # back to the topic name strategy when there are none.
            return 200, [], False
        elif head == "compatibility" and method == "POST":
            return 200, {"is_compatible": True}, False
        elif n == 0 and method == "GET":
            return 200, {}, False
        raise not_found()


def write_port_file(path: str, port: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Run an in-memory Confluent Schema Registry-compatible server on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    parser.add_argument("--port-file", help="write the chosen port to this file once listening")
    parser.add_argument("--user", metavar="USER:PASS", help="require HTTP basic auth with these credentials")
    parser.add_argument("--log", metavar="FILE", help="append one line per request: METHOD PATH auth|no-auth")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="wait before answering a schema by id")
    parser.add_argument("--fail", type=int, metavar="STATUS", help="answer every schema by id with this HTTP status")
    parser.add_argument("--pad", type=int, default=0, metavar="BYTES", help="pad each schema-by-id answer with spaces")
    args = parser.parse_args(argv)
    Handler.delay = args.delay
    Handler.fail = args.fail
    Handler.pad = args.pad

    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.user is not None:
        if ":" not in args.user or not args.user.split(":", 1)[0]:
            parser.error("--user must look like USER:PASS")
        Handler.credentials = args.user.encode("utf-8")
    if args.log:
        try:
            Handler.log_file = open(args.log, "a", encoding="utf-8")
        except OSError as exc:
            parser.error(f"cannot open log file {args.log}: {exc.strerror or exc}")
    Handler.store = Store()

    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as exc:
        print(f"registry: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        try:
            write_port_file(args.port_file, port)
        except OSError as exc:
            print(f"registry: cannot write port file {args.port_file}: {exc.strerror or exc}", file=sys.stderr)
            server.server_close()
            return 1

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(
        f"registry: listening on http://127.0.0.1:{port}" + (" (basic auth required)" if args.user else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
