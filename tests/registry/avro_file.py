"""Write a JSON-lines events file as an Avro object container file.

The schema is the one produce.py registers (built in events.py from the
whole input: event names as an enum, timestamp as timestamp-millis, the
union of property keys as a nested record of nullable fields).

Usage:
    avro_file.py --input events.jsonl --out events.avro [--codec null|deflate]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Keep the source tree free of __pycache__ when importing the sibling module.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import events as ev  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write JSON-lines events as an Avro object container file.")
    parser.add_argument("--input", required=True, help="JSON-lines events file")
    parser.add_argument("--out", required=True, help="output .avro file")
    parser.add_argument("--codec", choices=("null", "deflate"), default="deflate", help="block codec (default deflate)")
    args = parser.parse_args(argv)

    try:
        import fastavro
    except ImportError as exc:
        print(f"avro_file: fastavro is needed: {exc}", file=sys.stderr)
        return 2

    try:
        es = ev.load_events(args.input)
    except ev.EventFileError as exc:
        print(f"avro_file: {exc}", file=sys.stderr)
        return 2

    started = time.monotonic()
    schema = fastavro.parse_schema(ev.avro_schema(es))
    tmp = args.out + ".tmp"
    try:
        with open(tmp, "wb") as fh:
            fastavro.writer(fh, schema, (ev.avro_record(es, e) for e in es.events), codec=args.codec)
        os.replace(tmp, args.out)
    except OSError as exc:
        print(f"avro_file: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        print(f"avro_file: cannot encode events: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(
        f"avro_file: wrote {len(es.events)} events to {args.out} "
        f"({os.path.getsize(args.out)} bytes, codec {args.codec}) in {elapsed:.2f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
