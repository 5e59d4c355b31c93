"""Run every protocol vector through the reference decoder in zpub_decode.py."""

import base64
import json
import unittest
from pathlib import Path

from zpub_decode import (
    DecodeError,
    decode_message,
    json_depth,
    matches_filter,
    topic_error,
)

VECTORS_DIRECTORY = Path(__file__).resolve().parents[2] / "protocol" / "vectors"

ERROR_CODES = {
    "FRAME_COUNT",
    "TOPIC_NOT_UTF8",
    "INVALID_TOPIC",
    "EMPTY_PAYLOAD",
    "PAYLOAD_NOT_UTF8",
    "MESSAGE_TOO_LARGE",
    "JSON_TOO_DEEP",
    "INVALID_JSON",
    "NOT_CLOUDEVENT",
    "UNSUPPORTED_SPECVERSION",
    "TOPIC_MISMATCH",
}

# Vector option names (camelCase, as in the TypeScript DecodeOptions) mapped
# to the keyword arguments of decode_message.
OPTION_NAMES = {"maxMessageBytes": "max_message_bytes", "maxDepth": "max_depth"}


def load_vectors():
    vectors = []
    for path in sorted(VECTORS_DIRECTORY.glob("*.json")):
        with path.open(encoding="utf-8") as file:
            vectors.append((path.name, json.load(file)))
    return vectors


def to_frame(frame):
    if "utf8" in frame:
        return frame["utf8"].encode("utf-8")
    return base64.b64decode(frame["base64"], validate=True)


def decode_vector(vector):
    frames = [to_frame(frame) for frame in vector["frames"]]
    options = {
        OPTION_NAMES[name]: value for name, value in vector.get("options", {}).items()
    }
    return decode_message(frames, **options)


class VectorTest(unittest.TestCase):
    vectors = load_vectors()

    def test_vectors_found(self):
        self.assertGreater(len(self.vectors), 0, f"no vectors in {VECTORS_DIRECTORY}")

    def test_accepted_vectors(self):
        for name, vector in self.vectors:
            expected = vector["expect"]
            if "error" in expected:
                continue
            with self.subTest(vector=name):
                decoded = decode_vector(vector)
                self.assertEqual(decoded.topic, expected["topic"])
                self.assertEqual(decoded.events, expected["events"])
                self.assertEqual(decoded.batch, expected["batch"])

    def test_rejected_vectors(self):
        for name, vector in self.vectors:
            expected = vector["expect"]
            if "error" not in expected:
                continue
            with self.subTest(vector=name):
                with self.assertRaises(DecodeError) as raised:
                    decode_vector(vector)
                self.assertEqual(raised.exception.code, expected["error"])

    def test_every_error_code_covered(self):
        codes = {
            vector["expect"]["error"]
            for _, vector in self.vectors
            if "error" in vector["expect"]
        }
        self.assertEqual(codes, ERROR_CODES)

    def test_only_known_options(self):
        for name, vector in self.vectors:
            with self.subTest(vector=name):
                self.assertLessEqual(set(vector.get("options", {})), set(OPTION_NAMES))


class MatchesFilterTest(unittest.TestCase):
    cases = [
        ("number", "", True),
        ("number", "number", True),
        ("number.7", "number", True),
        ("number.7.x", "number.7", True),
        ("numbers", "number", False),
        ("number:7", "number", False),
        ("number", "number.7", False),
        ("number.70", "number.7", False),
        ("http.GETX.print", "http.GET", False),
    ]

    def test_cases(self):
        for topic, topic_filter, expected in self.cases:
            with self.subTest(topic=topic, filter=topic_filter):
                self.assertEqual(matches_filter(topic, topic_filter), expected)


class TopicErrorTest(unittest.TestCase):
    def test_valid_topics(self):
        for topic in ["number", "http.GET.print.:number", "a-b_c:d%20", "x" * 1024]:
            with self.subTest(topic=topic):
                self.assertIsNone(topic_error(topic))

    def test_invalid_topics(self):
        invalid = ["", ".", "a..b", "a.", "a b", "café", "~zpub.hello.x", "x" * 1025]
        for topic in invalid:
            with self.subTest(topic=topic):
                self.assertIsNotNone(topic_error(topic))


class JsonDepthTest(unittest.TestCase):
    cases = [
        ("1", 0),
        ("{}", 1),
        ('{"a":[{}]}', 3),
        ('["[[[", "\\"[["]', 1),
        ('["\\\\", [[]]]', 3),
        ("[][][]", 1),
    ]

    def test_cases(self):
        for text, expected in self.cases:
            with self.subTest(text=text):
                self.assertEqual(json_depth(text, 64), expected)

    def test_stops_past_limit(self):
        self.assertEqual(json_depth("[" * 1000, 3), 4)


if __name__ == "__main__":
    unittest.main()
