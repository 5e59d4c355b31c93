"""Subscribe to a zpub publisher over ZeroMQ and print its events as JSON lines.

Usage:
    /usr/bin/python3 zpub_subscriber.py [--endpoint URL] [--topic T]... [--count N]

Each event goes to stdout as one line of JSON, with batches flattened.
Diagnostics go to stderr: the line "ready" once the subscription is live
(see "Readiness handshake" in PROTOCOL.md), and one line for each message
that fails to decode, which is then skipped.
"""

import argparse
import json
import secrets
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from zpub_decode import (
    CONTROL_PREFIX,
    HELLO_PREFIX,
    DecodeError,
    decode_message,
    matches_filter,
    topic_error,
)

# How long to wait for the hello reply after the ZMTP handshake. A publisher
# that is not zpub's never replies, and by then libzmq has sent the filters.
HELLO_TIMEOUT_SECONDS = 0.5

CONTROL_PREFIX_BYTES = CONTROL_PREFIX.encode("ascii")


def parse_arguments():
    parser = argparse.ArgumentParser(
        description="Print the events of a zpub publisher as JSON lines."
    )
    parser.add_argument(
        "--endpoint",
        default="tcp://127.0.0.1:5555",
        help="ZeroMQ endpoint to connect to (default: %(default)s)",
    )
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        help="topic filter, matched on whole tokens; repeat it for more "
        "(default: every topic)",
    )
    parser.add_argument(
        "--count", type=int, help="exit after printing this many events"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="stop after this many seconds, with exit status 1 if --count "
        "is given and not reached",
    )
    arguments = parser.parse_args()

    for topic_filter in arguments.topic:
        problem = topic_error(topic_filter)
        if problem is not None:
            parser.error(f"invalid --topic {topic_filter!r}: {problem}")
    if arguments.count is not None and arguments.count < 1:
        parser.error("--count must be at least 1")
    return arguments


def log(line):
    print(line, file=sys.stderr, flush=True)


class Subscriber:
    """A SUB socket with zpub's filter rules and readiness handshake."""

    def __init__(self, context, endpoint, filters):
        self.filters = filters
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.monitor = self.socket.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED
        )
        # Filters first: libzmq sends them on each new connection, before the
        # hello subscription that on_handshake adds.
        for topic_filter in filters or [""]:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic_filter.encode("utf-8"))
        self.socket.connect(endpoint)

        self.ready = False
        self.hello_topic = None
        self.hello_deadline = None

    def close(self):
        self.socket.disable_monitor()
        self.monitor.close(linger=0)
        self.socket.close(linger=0)

    def on_handshake(self):
        """Subscribe to a new hello topic after a ZMTP handshake."""
        if self.ready:
            return
        if self.hello_topic is not None:
            self.socket.setsockopt(zmq.UNSUBSCRIBE, self.hello_topic)
        # A fresh nonce for each connection, because an XPUB socket that is
        # not verbose passes a subscription up only the first time.
        self.hello_topic = (HELLO_PREFIX + secrets.token_hex(8)).encode("ascii")
        self.hello_deadline = time.monotonic() + HELLO_TIMEOUT_SECONDS
        self.socket.setsockopt(zmq.SUBSCRIBE, self.hello_topic)

    def become_ready(self, confirmed):
        self.socket.setsockopt(zmq.UNSUBSCRIBE, self.hello_topic)
        self.hello_topic = None
        self.hello_deadline = None
        self.ready = True
        if not confirmed:
            timeout_ms = round(HELLO_TIMEOUT_SECONDS * 1000)
            log(f"no hello reply in {timeout_ms} ms; assuming the filters are live")
        log("ready")

    def on_message(self, frames):
        """Return the events of one message that match the filters."""
        # Control messages are not events. They reach a subscriber of every
        # topic, and this subscriber's own hello reply is one of them.
        if frames[0].startswith(CONTROL_PREFIX_BYTES):
            if not self.ready and frames[0] == self.hello_topic:
                self.become_ready(confirmed=True)
            return []

        try:
            message = decode_message(frames)
        except DecodeError as error:
            topic = frames[0].decode("utf-8", "replace")
            size = sum(len(frame) for frame in frames)
            log(
                f"skipped message on topic {topic!r} ({size} bytes): "
                f"{error.code}: {error.reason}"
            )
            return []

        # SUB filters are byte prefixes, so "number" also lets "numbers" in.
        if self.filters and not any(
            matches_filter(message.topic, topic_filter)
            for topic_filter in self.filters
        ):
            return []
        return message.events


def poll_timeout_ms(*deadlines):
    """Return how long a poll may block to wake at the first deadline."""
    pending = [deadline for deadline in deadlines if deadline is not None]
    if not pending:
        return None
    return max(0, round((min(pending) - time.monotonic()) * 1000))


def run(arguments):
    context = zmq.Context()
    subscriber = Subscriber(context, arguments.endpoint, arguments.topic)
    poller = zmq.Poller()
    poller.register(subscriber.socket, zmq.POLLIN)
    poller.register(subscriber.monitor, zmq.POLLIN)
    deadline = None
    if arguments.timeout is not None:
        deadline = time.monotonic() + arguments.timeout
    printed = 0

    try:
        while arguments.count is None or printed < arguments.count:
            timeout_ms = poll_timeout_ms(subscriber.hello_deadline, deadline)
            readable = dict(poller.poll(timeout_ms))

            if subscriber.monitor in readable:
                event = recv_monitor_message(subscriber.monitor)
                if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    subscriber.on_handshake()

            if subscriber.socket in readable:
                frames = subscriber.socket.recv_multipart()
                for event in subscriber.on_message(frames):
                    print(json.dumps(event), flush=True)
                    printed += 1
                    if printed == arguments.count:
                        break

            now = time.monotonic()
            hello_deadline = subscriber.hello_deadline
            if hello_deadline is not None and now >= hello_deadline:
                subscriber.become_ready(confirmed=False)
            if deadline is not None and now >= deadline:
                if arguments.count is None:
                    return 0
                log(
                    f"timed out after {arguments.timeout} s with "
                    f"{printed} of {arguments.count} events"
                )
                return 1
        return 0
    finally:
        subscriber.close()
        context.term()


def main():
    arguments = parse_arguments()
    try:
        sys.exit(run(arguments))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
