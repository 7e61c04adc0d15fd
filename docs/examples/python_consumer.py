#!/usr/bin/env python3
"""A minimal billing consumer of the head-end's embedded feed server, in Python.

It speaks the wire protocol of docs/FEED.md with classes generated from the schema
(protocols/feed/v1/feed.proto, documented in docs/FEED_SCHEMA.md):

  1. connect over TCP and send ClientMessage{subscribe: consumer, token, resume point};
  2. read ServerMessages: Subscribed, then IntervalBatch, Heartbeat, or Error (then the server closes);
  3. after handling every interval of a batch, send ClientMessage{ack: batch.sequence}: the server
     stores that as this consumer's durable cursor, so a restart resumes right after it.

Every message travels as a varint length prefix followed by the serialized protobuf.
Delivery is at least once: de-duplicate with `idempotency_key`, keep the highest `version`.

Needs Debian's python3-protobuf and protoc (protobuf-compiler). The classes are generated at run
time into a temporary directory, or once by hand:
    protoc --python_out=OUT -I protocols protocols/feed/v1/feed.proto   # then PYTHONPATH=OUT

Example (prints one JSON line per interval, like `headendctl feed tail`):
    /usr/bin/python3 docs/examples/python_consumer.py --connect 127.0.0.1:7700 \
        --consumer billing --token s3cret [--from-sequence N | --from-time UNIX] \
        [--max-intervals N] [--idle-exit-s S]
"""
import argparse
import importlib
import json
import os
import socket
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_schema(proto_root):
    """Imports feed/v1/feed_pb2, generating it with protoc when it is not importable yet."""
    try:
        return importlib.import_module("feed.v1.feed_pb2")
    except ImportError:
        pass
    out = tempfile.mkdtemp(prefix="feed_pb2_")
    subprocess.run(["protoc", "--python_out=" + out, "-I", proto_root,
                    os.path.join(proto_root, "feed", "v1", "feed.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("feed.v1.feed_pb2")


def encode_varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class FeedConnection:
    """Length-delimited protobuf messages over one TCP connection."""

    MAX_MESSAGE = 64 * 1024 * 1024

    def __init__(self, host, port, timeout_s):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.buffer = b""

    def send(self, message):
        payload = message.SerializeToString()
        self.sock.sendall(encode_varint(len(payload)) + payload)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the feed server closed the connection")
        self.buffer += chunk

    def receive(self, message_type):
        """The next message; raises socket.timeout when none arrives in time."""
        while True:
            size, shift, pos = 0, 0, 0
            complete = False
            while pos < len(self.buffer):
                byte = self.buffer[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    complete = True
                    break
                if shift > 63:
                    raise ValueError("malformed varint length prefix from the server")
            if complete and size > self.MAX_MESSAGE:
                raise ValueError("server message of %d bytes is larger than allowed" % size)
            if complete and len(self.buffer) - pos >= size:
                message = message_type()
                message.ParseFromString(self.buffer[pos:pos + size])
                self.buffer = self.buffer[pos + size:]
                return message
            self._fill()


def interval_json(pb, interval):
    """One interval as a JSON-ready dict: enums by name, optional registers only when present."""
    out = {
        "sequence": interval.sequence,
        "meter_id": interval.meter_id,
        "usage_point": interval.usage_point,
        "kind": pb.ReadingKind.Name(interval.kind),
        "reading_type_cim": interval.reading_type_cim,
        "start_unix": interval.start_unix,
        "end_unix": interval.end_unix,
        "value_wh": interval.value_wh,
        "status": pb.IntervalStatus.Name(interval.status),
        "quality_codes": list(interval.quality_codes),
        "estimation_method": pb.EstimationMethod.Name(interval.estimation_method),
        "version": interval.version,
        "idempotency_key": interval.idempotency_key,
        "collected_unix_ms": interval.collected_unix_ms,
        "source": pb.ReadSource.Name(interval.source),
    }
    if interval.HasField("register_start_wh"):
        out["register_start_wh"] = interval.register_start_wh
    if interval.HasField("register_end_wh"):
        out["register_end_wh"] = interval.register_end_wh
    return out


def main():
    parser = argparse.ArgumentParser(description="Minimal consumer of the head-end billing feed")
    parser.add_argument("--connect", default="127.0.0.1:7700", help="HOST:PORT of the feed server")
    parser.add_argument("--consumer", required=True, help="durable consumer name ([[feed.consumers]])")
    parser.add_argument("--token", required=True, help="that consumer's token")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--from-sequence", type=int, help="replay from this sequence")
    resume.add_argument("--from-time", type=int, help="replay intervals collected at/after this UTC unix time")
    parser.add_argument("--max-intervals", type=int, default=0, help="exit after this many (0: never)")
    parser.add_argument("--idle-exit-s", type=float, default=0, help="exit when nothing arrives this long (0: never)")
    parser.add_argument("--proto-root", default=os.path.join(REPO, "protocols"), help="where feed/v1/feed.proto is")
    args = parser.parse_args()

    pb = load_schema(args.proto_root)
    host, _, port = args.connect.rpartition(":")
    idle = args.idle_exit_s if args.idle_exit_s > 0 else None
    conn = FeedConnection(host, int(port), timeout_s=10)
    conn.sock.settimeout(idle)

    request = pb.ClientMessage()
    request.subscribe.consumer = args.consumer
    request.subscribe.token = args.token
    if args.from_sequence is not None:
        request.subscribe.from_sequence = args.from_sequence
    elif args.from_time is not None:
        request.subscribe.from_time_unix = args.from_time
    else:
        request.subscribe.from_cursor = True
    conn.send(request)

    printed = 0
    while True:
        try:
            message = conn.receive(pb.ServerMessage)
        except socket.timeout:
            return 0  # idle: everything available was consumed
        body = message.WhichOneof("body")
        if body == "error":
            print("feed error %s: %s" % (pb.Error.Code.Name(message.error.code), message.error.message),
                  file=sys.stderr)
            return 1
        if body == "subscribed":
            print("subscribed to %s, resuming at %d (head %d)" % (
                message.subscribed.daemon_id, message.subscribed.resume_sequence,
                message.subscribed.head_sequence), file=sys.stderr)
            continue
        if body != "batch":
            continue  # heartbeat
        for interval in message.batch.intervals:
            print(json.dumps(interval_json(pb, interval), sort_keys=True))
            printed += 1
        sys.stdout.flush()
        ack = pb.ClientMessage()
        ack.ack.sequence = message.batch.sequence  # handled (printed): safe to acknowledge
        conn.send(ack)
        if args.max_intervals and printed >= args.max_intervals:
            return 0


if __name__ == "__main__":
    sys.exit(main())
