"""Reference decoder for zpub messages, written from PROTOCOL.md.

It uses only the standard library, so test_vectors.py runs on any Python 3.7
or later and zpub_subscriber.py needs nothing beyond pyzmq.
"""

import json
import re
from dataclasses import dataclass

SPEC_VERSION = "1.0"
CONTROL_PREFIX = "~zpub."
HELLO_PREFIX = CONTROL_PREFIX + "hello."
MAX_TOPIC_BYTES = 1024
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_TOKEN = re.compile(r"[A-Za-z0-9_:%-]+")
# The characters that json_depth must look at; it skips everything else.
_STRUCTURAL = re.compile(r'[\\"\[\]{}]')


class DecodeError(Exception):
    """A message that cannot be decoded, with its PROTOCOL.md error code."""

    def __init__(self, code, reason):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class DecodedMessage:
    topic: str
    events: list
    batch: bool


def topic_error(topic):
    """Return why `topic` is not a valid event topic, or None if it is."""
    if topic == "":
        return "a topic must not be empty"
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        return f"a topic must be at most {MAX_TOPIC_BYTES} bytes"
    for token in topic.split("."):
        if token == "":
            return 'a topic must not begin or end with "." or contain ".."'
        if not _TOKEN.fullmatch(token):
            return f"token {token!r} may contain only A-Z a-z 0-9 _ - : %"
    return None


def matches_filter(topic, topic_filter):
    """Match whole tokens: "number" matches "number" and "number.7", not "numbers"."""
    if topic_filter == "" or topic == topic_filter:
        return True
    return topic.startswith(topic_filter + ".")


def json_depth(text, limit):
    """Return the nesting depth of arrays and objects in JSON text.

    Brackets inside strings do not count. The scan stops as soon as the depth
    passes `limit`, so a deep payload is rejected before json.loads recurses.
    """
    depth = 0
    max_depth = 0
    in_string = False
    escaped_index = -1
    for match in _STRUCTURAL.finditer(text):
        index = match.start()
        if index == escaped_index:
            continue
        character = match.group()
        if in_string:
            if character == "\\":
                escaped_index = index + 1
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            if depth > max_depth:
                max_depth = depth
                if max_depth > limit:
                    return max_depth
        elif character in "]}":
            depth -= 1
    return max_depth


def _reject_constant(name):
    # Python's json module accepts NaN, Infinity and -Infinity, which are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(text):
    # int() rejects more than 4300 digits (sys.set_int_max_str_digits), but
    # such a number is still valid JSON, so read it as a float like JavaScript.
    try:
        return int(text)
    except ValueError:
        return float(text)


def _event_error(candidate, topic):
    """Return (code, reason) for a batch item or payload that is no valid event."""
    if not isinstance(candidate, dict):
        return "NOT_CLOUDEVENT", "payload is not a JSON object"
    if "specversion" not in candidate:
        return "NOT_CLOUDEVENT", 'missing attribute "specversion"'
    if candidate["specversion"] != SPEC_VERSION:
        return (
            "UNSUPPORTED_SPECVERSION",
            f"specversion {candidate['specversion']!r} is not supported",
        )
    for name in ("id", "source", "type"):
        value = candidate.get(name)
        if not isinstance(value, str) or value == "":
            return "NOT_CLOUDEVENT", f'attribute "{name}" must be a non-empty string'
    if "topic" in candidate and candidate["topic"] != topic:
        return (
            "TOPIC_MISMATCH",
            f"attribute topic is {candidate['topic']!r} but frame 1 is {topic!r}",
        )
    return None


def decode_message(
    frames,
    max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
    max_depth=DEFAULT_MAX_DEPTH,
):
    """Decode the frames (bytes) of one message, in the order of checks of PROTOCOL.md.

    Raises DecodeError. Control topics fail with INVALID_TOPIC, so a
    subscriber skips them before it calls this function.
    """
    if len(frames) != 2:
        raise DecodeError("FRAME_COUNT", f"expected 2 frames, got {len(frames)}")
    topic_frame, payload = frames
    size = len(topic_frame) + len(payload)

    try:
        topic = topic_frame.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("TOPIC_NOT_UTF8", "topic is not valid UTF-8") from None
    problem = topic_error(topic)
    if problem is not None:
        raise DecodeError("INVALID_TOPIC", f"invalid topic {topic!r}: {problem}")
    if size > max_message_bytes:
        raise DecodeError(
            "MESSAGE_TOO_LARGE",
            f"message is {size} bytes, over the limit of {max_message_bytes}",
        )
    if len(payload) == 0:
        raise DecodeError("EMPTY_PAYLOAD", "payload frame is empty")

    try:
        # "utf-8", not "utf-8-sig": a byte order mark stays in the text.
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("PAYLOAD_NOT_UTF8", "payload is not UTF-8") from None
    if json_depth(text, max_depth) > max_depth:
        raise DecodeError(
            "JSON_TOO_DEEP", f"payload nests deeper than {max_depth} levels"
        )
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_int=_parse_int
        )
    except ValueError as error:
        raise DecodeError("INVALID_JSON", f"invalid JSON: {error}") from None

    batch = isinstance(value, list)
    events = value if batch else [value]
    for index, candidate in enumerate(events):
        problem = _event_error(candidate, topic)
        if problem is not None:
            code, reason = problem
            where = f"batch item {index}: " if batch else ""
            raise DecodeError(code, where + reason)
    return DecodedMessage(topic=topic, events=events, batch=batch)
