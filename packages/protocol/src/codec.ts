import { DecodeError, type DecodeErrorCode } from './errors.js';
import { SPEC_VERSION, type ZpubEvent } from './event.js';
import { assertTopic } from './topic.js';

/** Default for {@link DecodeOptions.maxMessageBytes}: 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** Default for {@link DecodeOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 64;

/** A message as it travels: frame 1 is the topic, frame 2 the payload. */
export type Frames = [topic: Uint8Array, payload: Uint8Array];

/** A decoded message: its topic and one event, or the events of a batch. */
export interface DecodedMessage {
  topic: string;
  events: ZpubEvent[];
  /** True when the payload was a JSON array of events. */
  batch: boolean;
}

export interface DecodeOptions {
  /**
   * The maximum total size of a message's frames, in bytes.
   * @default 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * The maximum nesting of arrays and objects in a payload. A batch array
   * counts as one level.
   * @default 64
   */
  maxDepth?: number;
}

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text. Without it, TextDecoder drops
// it, so a topic frame that starts with a BOM would decode to a valid topic
// that differs from its bytes, and a payload with a BOM would parse as JSON.
const strictDecoder = new TextDecoder('utf-8', {
  fatal: true,
  ignoreBOM: true,
});

/** Encodes one event as the two frames of a message. */
export function encodeEvent(topic: string, event: ZpubEvent): Frames {
  return [encoder.encode(topic), encoder.encode(JSON.stringify(event))];
}

/**
 * Encodes events of one topic as one message whose payload is a CloudEvents
 * JSON batch. A single event is encoded as a plain event.
 */
export function encodeBatch(
  topic: string,
  events: readonly ZpubEvent[],
): Frames {
  if (events.length === 1) {
    return encodeEvent(topic, events[0] as ZpubEvent);
  }

  return [encoder.encode(topic), encoder.encode(JSON.stringify(events))];
}

/**
 * Decodes the frames of one message and checks every event in it. Throws
 * {@link DecodeError} with a code and a one-line reason; a subscriber reports
 * it and goes on with the next message.
 */
export function decodeMessage(
  frames: readonly Uint8Array[],
  options: DecodeOptions = {},
): DecodedMessage {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const size = frames.reduce((total, frame) => total + frame.byteLength, 0);
  const fail = (
    code: DecodeErrorCode,
    reason: string,
    topic?: string,
  ): never => {
    throw new DecodeError(code, reason, topic, size);
  };

  if (frames.length !== 2) {
    const first = frames[0];
    fail(
      'FRAME_COUNT',
      `expected 2 frames, got ${frames.length}`,
      first === undefined ? undefined : decodeText(first),
    );
  }
  const [topicFrame, payload] = frames as Frames;
  const topic = decodeText(topicFrame);
  if (topic === undefined) {
    return fail('TOPIC_NOT_UTF8', 'topic frame is not valid UTF-8');
  }
  try {
    assertTopic(topic);
  } catch (error) {
    fail('INVALID_TOPIC', (error as Error).message, topic);
  }
  if (size > maxMessageBytes) {
    fail(
      'MESSAGE_TOO_LARGE',
      `message is ${size} bytes, over the limit of ${maxMessageBytes}`,
      topic,
    );
  }
  if (payload.byteLength === 0) {
    fail('EMPTY_PAYLOAD', 'payload frame is empty', topic);
  }

  const text = decodeText(payload);
  if (text === undefined) {
    return fail('PAYLOAD_NOT_UTF8', 'payload is not valid UTF-8', topic);
  }
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) {
    fail(
      'JSON_TOO_DEEP',
      `payload nests deeper than ${maxDepth} levels`,
      topic,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(
      'INVALID_JSON',
      `payload is not valid JSON: ${(error as Error).message}`,
      topic,
    );
  }

  const batch = Array.isArray(json);
  const candidates: unknown[] = batch ? (json as unknown[]) : [json];
  const events = candidates.map((candidate, index) => {
    const where = batch ? `batch item ${index}: ` : '';
    const problem = checkEvent(candidate, topic);
    if (problem !== undefined) {
      fail(problem.code, where + problem.reason, topic);
    }

    return candidate as ZpubEvent;
  });

  return { topic, events, batch };
}

function decodeText(frame: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(frame);
  } catch {
    return undefined;
  }
}

const REQUIRED_STRINGS = ['id', 'source', 'type'] as const;

function checkEvent(
  candidate: unknown,
  topic: string,
): { code: DecodeErrorCode; reason: string } | undefined {
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    Array.isArray(candidate)
  ) {
    return { code: 'NOT_CLOUDEVENT', reason: 'payload is not a JSON object' };
  }
  const event = candidate as Record<string, unknown>;
  if (!('specversion' in event)) {
    return {
      code: 'NOT_CLOUDEVENT',
      reason: 'missing attribute "specversion"',
    };
  }
  if (event.specversion !== SPEC_VERSION) {
    return {
      code: 'UNSUPPORTED_SPECVERSION',
      reason: `specversion ${JSON.stringify(event.specversion)} is not supported, only "${SPEC_VERSION}"`,
    };
  }
  for (const name of REQUIRED_STRINGS) {
    const value = event[name];
    if (typeof value !== 'string' || value.length === 0) {
      return {
        code: 'NOT_CLOUDEVENT',
        reason: `attribute "${name}" must be a non-empty string`,
      };
    }
  }
  if (event.topic !== undefined && event.topic !== topic) {
    return {
      code: 'TOPIC_MISMATCH',
      reason: `attribute "topic" is ${JSON.stringify(event.topic)} but the message was sent on ${JSON.stringify(topic)}`,
    };
  }

  return undefined;
}

/**
 * Returns the nesting depth of JSON text, stopping early once it passes
 * `limit`, so that a hostile payload is rejected before JSON.parse and before
 * any recursive walk of the result.
 */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let maxDepth = 0;
  let inString = false;

  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) {
        index++;
      } else if (code === 0x22) {
        inString = false;
      }
      continue;
    }
    if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth++;
      if (depth > maxDepth) {
        maxDepth = depth;
        if (maxDepth > limit) {
          return maxDepth;
        }
      }
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }

  return maxDepth;
}
