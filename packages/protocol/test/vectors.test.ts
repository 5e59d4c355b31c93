import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeMessage,
  type DecodeErrorCode,
  type DecodeOptions,
} from '../src/index.js';

/** One file in protocol/vectors; see protocol/vectors/README.md. */
interface Vector {
  description: string;
  frames: ({ utf8: string } | { base64: string })[];
  options?: DecodeOptions;
  expect:
    | { topic: string; events: unknown[]; batch: boolean }
    | { error: DecodeErrorCode };
}

const vectorsDirectory = fileURLToPath(
  new URL('../../../protocol/vectors/', import.meta.url),
);
const encoder = new TextEncoder();

const vectors = readdirSync(vectorsDirectory)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({
    name,
    vector: JSON.parse(readFileSync(vectorsDirectory + name, 'utf8')) as Vector,
  }));

function toFrame(frame: Vector['frames'][number]): Uint8Array {
  return 'utf8' in frame
    ? encoder.encode(frame.utf8)
    : new Uint8Array(Buffer.from(frame.base64, 'base64'));
}

/** Returns the error code decodeMessage throws, or undefined if it accepts. */
function errorCodeOf(vector: Vector): DecodeErrorCode | undefined {
  try {
    decodeMessage(vector.frames.map(toFrame), vector.options);
  } catch (error) {
    if (error instanceof DecodeError) {
      return error.code;
    }
    throw error;
  }

  return undefined;
}

describe('protocol vectors', () => {
  it('finds the vector files', () => {
    expect(vectors.length).toBeGreaterThan(0);
  });

  it.each(vectors)('$name has a description', ({ vector }) => {
    expect(vector.description.length).toBeGreaterThan(0);
  });

  const accepted = vectors.filter(({ vector }) => !('error' in vector.expect));
  const rejected = vectors.filter(({ vector }) => 'error' in vector.expect);

  describe.each(accepted)('$name', ({ vector }) => {
    const decode = () =>
      decodeMessage(vector.frames.map(toFrame), vector.options);
    const expected = vector.expect as Exclude<
      Vector['expect'],
      { error: DecodeErrorCode }
    >;

    it('decodes the topic', () => {
      expect(decode().topic).toBe(expected.topic);
    });

    it('decodes the events', () => {
      expect(decode().events).toEqual(expected.events);
    });

    it('detects a batch', () => {
      expect(decode().batch).toBe(expected.batch);
    });
  });

  it.each(rejected)('$name is rejected', ({ vector }) => {
    const expected = vector.expect as { error: DecodeErrorCode };
    expect(errorCodeOf(vector)).toBe(expected.error);
  });

  it('covers every error code', () => {
    const codes = new Set(
      rejected.map(({ vector }) => (vector.expect as { error: string }).error),
    );
    const all: DecodeErrorCode[] = [
      'FRAME_COUNT',
      'TOPIC_NOT_UTF8',
      'INVALID_TOPIC',
      'EMPTY_PAYLOAD',
      'PAYLOAD_NOT_UTF8',
      'MESSAGE_TOO_LARGE',
      'JSON_TOO_DEEP',
      'INVALID_JSON',
      'NOT_CLOUDEVENT',
      'UNSUPPORTED_SPECVERSION',
      'TOPIC_MISMATCH',
    ];
    expect([...codes].sort()).toEqual([...all].sort());
  });
});
