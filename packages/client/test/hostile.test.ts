import { randomUUID } from 'node:crypto';
import {
  HELLO_PREFIX,
  MESSAGE_EVENT_TYPE,
  createEvent,
  type DecodeErrorCode,
} from '@zpub/protocol';
import { describe, expect, it, onTestFinished } from 'vitest';
import { XPublisher } from 'zeromq';
import { collect } from './helpers.js';

/** 16 MiB, far over the default limit of 1 MiB per message. */
const HUGE_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** Nesting of the deepest payload, far past the default limit of 64. */
const DEEP_NESTING = 100_000;

function validPayload(data: string): string {
  return JSON.stringify(
    createEvent({
      id: randomUUID(),
      source: 'zpub://test/hostile',
      type: MESSAGE_EVENT_TYPE,
      time: new Date().toISOString(),
      topic: 'number',
      sequence: 1,
      instance: randomUUID(),
      data,
    }),
  );
}

interface HostileMessage {
  name: string;
  frames: (string | Buffer)[];
  /** The decode error, or undefined when nothing is to be reported. */
  code: DecodeErrorCode | undefined;
  /** The topic the notice names, when there is a notice. */
  topic?: string | undefined;
}

const HOSTILE_MESSAGES: HostileMessage[] = [
  // libzmq has no message of zero frames: zeromq.js sends nothing for [].
  { name: 'zero frames', frames: [], code: undefined },
  {
    name: 'one frame',
    frames: ['number'],
    code: 'FRAME_COUNT',
    topic: 'number',
  },
  {
    name: 'three frames',
    frames: ['number', validPayload('x'), 'extra'],
    code: 'FRAME_COUNT',
    topic: 'number',
  },
  {
    name: 'empty payload',
    frames: ['number', ''],
    code: 'EMPTY_PAYLOAD',
    topic: 'number',
  },
  {
    name: 'truncated JSON',
    frames: ['number', validPayload('x').slice(0, 40)],
    code: 'INVALID_JSON',
    topic: 'number',
  },
  {
    name: 'topic not UTF-8',
    frames: [Buffer.from([0x6e, 0x75, 0xff]), validPayload('x')],
    code: 'TOPIC_NOT_UTF8',
    topic: undefined,
  },
  {
    name: 'payload not UTF-8',
    frames: ['number', Buffer.from([0x7b, 0xc3, 0x28, 0x7d])],
    code: 'PAYLOAD_NOT_UTF8',
    topic: 'number',
  },
  {
    name: 'JSON that is not a CloudEvent',
    frames: ['number', '{"order":42}'],
    code: 'NOT_CLOUDEVENT',
    topic: 'number',
  },
  {
    name: 'unknown specversion',
    frames: [
      'number',
      JSON.stringify({ ...JSON.parse(validPayload('x')), specversion: '2.0' }),
    ],
    code: 'UNSUPPORTED_SPECVERSION',
    topic: 'number',
  },
  {
    name: 'nesting 100,000 levels deep',
    frames: [
      'number',
      `${'['.repeat(DEEP_NESTING)}${']'.repeat(DEEP_NESTING)}`,
    ],
    code: 'JSON_TOO_DEEP',
    topic: 'number',
  },
  {
    name: 'a 16 MB message',
    frames: ['number', Buffer.alloc(HUGE_PAYLOAD_BYTES, 0x20)],
    code: 'MESSAGE_TOO_LARGE',
    topic: 'number',
  },
];

/** An XPUB socket that sends frames exactly as given. */
async function openRawSocket(): Promise<{
  socket: XPublisher;
  endpoint: string;
}> {
  const socket = new XPublisher({ linger: 0 });
  await socket.bind('tcp://127.0.0.1:*');
  onTestFinished(() => socket.close());
  void answerHellos(socket);

  return { socket, endpoint: socket.lastEndpoint as string };
}

/** Answers each hello subscription as zpub's publisher does. */
async function answerHellos(socket: XPublisher): Promise<void> {
  try {
    for await (const [frame] of socket) {
      const filter = frame?.subarray(1).toString('utf8') ?? '';
      if (frame?.[0] === 1 && filter.startsWith(HELLO_PREFIX)) {
        await socket.send([filter, '{}']);
      }
    }
  } catch {
    // The socket was closed at the end of the test.
  }
}

describe('subscribe() with hostile input', () => {
  it.each(HOSTILE_MESSAGES)(
    '$name is reported and the next event arrives',
    async ({ frames, code, topic }) => {
      const { socket, endpoint } = await openRawSocket();
      const collector = await collect({ endpoint });

      await socket.send(frames);
      await socket.send(['number', validPayload('after')]);
      const [event] = await collector.take(1);
      const invalid = collector.notices.flatMap((notice) =>
        notice.kind === 'invalid' ? [notice.error] : [],
      );

      expect(event?.data).toBe('after');
      if (code === undefined) {
        expect(invalid).toEqual([]);
        return;
      }
      expect(invalid).toHaveLength(1);
      expect(invalid[0]?.code).toBe(code);
      expect(invalid[0]?.topic).toBe(topic);
      expect(invalid[0]?.size).toBe(
        frames.reduce((total, frame) => total + Buffer.byteLength(frame), 0),
      );
      expect(invalid[0]?.reason).not.toMatch(/\n/);
    },
  );

  it('keeps receiving after many oversized messages', async () => {
    const { socket, endpoint } = await openRawSocket();
    const collector = await collect({ endpoint, maxMessageBytes: 4096 });

    for (let index = 0; index < 20; index++) {
      await socket.send(['number', Buffer.alloc(64 * 1024, 0x20)]);
      await socket.send(['number', validPayload(`after ${index}`)]);
    }
    const events = await collector.take(20);
    const tooLarge = collector.notices.filter(
      (notice) =>
        notice.kind === 'invalid' && notice.error.code === 'MESSAGE_TOO_LARGE',
    );

    expect(events.map((event) => event.data)).toEqual(
      Array.from({ length: 20 }, (_, index) => `after ${index}`),
    );
    expect(tooLarge).toHaveLength(20);
  });
});
