import { randomUUID } from 'node:crypto';
import { Publisher } from '@zpub/client';
import { encodeEvent, type ZpubEvent } from '@zpub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RawPublisher,
  ZsubProcess,
  killRunningZsubs,
  makeEvent,
} from './helpers.js';

const UNCONFIRMED =
  ' (publisher did not confirm; assumed live after the handshake)';

const publishers: RawPublisher[] = [];

afterEach(async () => {
  await killRunningZsubs();
  for (const publisher of publishers.splice(0)) {
    publisher.close();
  }
});

async function openRawPublisher(replyToHello: boolean): Promise<RawPublisher> {
  const publisher = await RawPublisher.open({ replyToHello });
  publishers.push(publisher);

  return publisher;
}

describe('sequence notices', () => {
  it('report a gap', async () => {
    const publisher = await openRawPublisher(false);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '3',
    ]);
    const ready = await zsub.waitForReady();
    const instance = randomUUID();
    for (const sequence of [1, 2, 5]) {
      const event = makeEvent({ sequence, instance, data: sequence });
      await publisher.send(encodeEvent('number', event));
    }

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(ready).toBe(
      `zsub: ready, subscribed to ${publisher.endpoint} (topics: all)${UNCONFIRMED}`,
    );
    expect(zsub.stdoutLines).toEqual(['1', '2', '5']);
    expect(zsub.stderrLines).toEqual([
      ready,
      `zsub: missed 2 events on topic "number" from publisher ${instance} (sequence 3 to 4)`,
    ]);
  });

  it('report a single missed event', async () => {
    const publisher = await openRawPublisher(true);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '2',
    ]);
    const ready = await zsub.waitForReady();
    const instance = randomUUID();
    for (const sequence of [1, 3]) {
      const event = makeEvent({ sequence, instance, data: sequence });
      await publisher.send(encodeEvent('number', event));
    }

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines).toEqual([
      ready,
      `zsub: missed 1 event on topic "number" from publisher ${instance} (sequence 2)`,
    ]);
  });

  it('report a restart', async () => {
    const publisher = await openRawPublisher(false);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '2',
    ]);
    const ready = await zsub.waitForReady();
    const source = 'zpub://test/tcp/127.0.0.1:5555';
    const [first, second] = [randomUUID(), randomUUID()];
    await publisher.send(
      encodeEvent(
        'number',
        makeEvent({ source, instance: first, sequence: 7, data: 'a' }),
      ),
    );
    await publisher.send(
      encodeEvent(
        'number',
        makeEvent({ source, instance: second, sequence: 1, data: 'b' }),
      ),
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['a', 'b']);
    expect(zsub.stderrLines).toEqual([
      ready,
      `zsub: publisher ${source} restarted (instance ${first} -> ${second}); sequences start again`,
    ]);
  });

  it('report an event out of order', async () => {
    const publisher = await openRawPublisher(true);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '2',
    ]);
    const ready = await zsub.waitForReady();
    const instance = randomUUID();
    for (const sequence of [4, 4]) {
      const event = makeEvent({ sequence, instance, data: sequence });
      await publisher.send(encodeEvent('number', event));
    }

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines).toEqual([
      ready,
      `zsub: event on topic "number" from publisher ${instance} is out of order: sequence 4 arrived after sequence 4`,
    ]);
  });

  it('are not printed with --quiet', async () => {
    const publisher = await openRawPublisher(true);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '2',
      '--quiet',
    ]);
    // Without a ready line, readiness shows on the publisher's side.
    await publisher.helloReceived;
    const instance = randomUUID();
    await publisher.send(
      encodeEvent('number', makeEvent({ instance, sequence: 1 })),
    );
    await publisher.send(['number', '']);
    await publisher.send(
      encodeEvent('number', makeEvent({ instance, sequence: 9 })),
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines).toEqual([]);
  });
});

/** Builds the frames of a valid event, which zsub prints after each bad message. */
function validFrames(data: string): [string, string] {
  return ['number', JSON.stringify(makeEvent({ data }))];
}

const VALID_PAYLOAD = JSON.stringify(makeEvent({ data: 'x' }));
const VALID_SIZE = 'number'.length + Buffer.byteLength(VALID_PAYLOAD);

interface BadMessage {
  name: string;
  frames: Array<string | Uint8Array>;
  /** The expected stderr line, or a pattern for reasons from V8. */
  notice: string | RegExp;
  args?: string[];
}

const BAD_MESSAGES: BadMessage[] = [
  {
    name: 'one frame',
    frames: ['number'],
    notice:
      'zsub: skipped message on topic "number" (6 bytes): expected 2 frames, got 1',
  },
  {
    name: 'three frames',
    frames: ['number', VALID_PAYLOAD, 'extra'],
    notice: `zsub: skipped message on topic "number" (${VALID_SIZE + 5} bytes): expected 2 frames, got 3`,
  },
  {
    name: 'empty payload',
    frames: ['number', ''],
    notice:
      'zsub: skipped message on topic "number" (6 bytes): payload frame is empty',
  },
  {
    name: 'truncated JSON',
    frames: ['number', '{"specversion":"1.0","id":'],
    notice:
      /^zsub: skipped message on topic "number" \(32 bytes\): payload is not valid JSON: .+$/,
  },
  {
    name: 'non-UTF-8 topic',
    frames: [Buffer.from([0x6e, 0xff, 0xfe]), VALID_PAYLOAD],
    notice: `zsub: skipped message on topic ? (${3 + Buffer.byteLength(VALID_PAYLOAD)} bytes): topic frame is not valid UTF-8`,
  },
  {
    name: 'non-UTF-8 payload',
    frames: ['number', Buffer.from([0x7b, 0xc3, 0x28, 0x7d])],
    notice:
      'zsub: skipped message on topic "number" (10 bytes): payload is not valid UTF-8',
  },
  {
    name: 'JSON that is not a CloudEvent',
    frames: ['number', '{"hello":"world"}'],
    notice:
      'zsub: skipped message on topic "number" (23 bytes): missing attribute "specversion"',
  },
  {
    name: 'JSON array of numbers',
    frames: ['number', '[1,2]'],
    notice:
      'zsub: skipped message on topic "number" (11 bytes): batch item 0: payload is not a JSON object',
  },
  {
    name: 'unknown specversion',
    frames: [
      'number',
      JSON.stringify({ ...makeEvent({ data: 'x' }), specversion: '0.3' }),
    ],
    notice: `zsub: skipped message on topic "number" (${VALID_SIZE} bytes): specversion "0.3" is not supported, only "1.0"`,
  },
  {
    name: 'control characters in the reason',
    frames: [
      'number',
      JSON.stringify({ ...makeEvent({ data: 'x' }), specversion: '\u001b[2J' }),
    ],
    notice:
      /^zsub: skipped message on topic "number" \(\d+ bytes\): specversion "\\u001b\[2J" is not supported, only "1\.0"$/,
  },
  {
    name: 'message over --max-message-size',
    frames: ['number', JSON.stringify(makeEvent({ data: 'x'.repeat(500) }))],
    notice:
      /^zsub: skipped message on topic "number" \((\d+) bytes\): message is \1 bytes, over the limit of 400$/,
    args: ['--max-message-size', '400'],
  },
];

describe('bad messages', () => {
  it.each(BAD_MESSAGES)(
    '$name is skipped with one notice',
    async ({ frames, notice, args = [] }) => {
      const publisher = await openRawPublisher(true);
      const zsub = new ZsubProcess([
        '--endpoint',
        publisher.endpoint,
        '--json',
        '--count',
        '1',
        ...args,
      ]);
      const ready = await zsub.waitForReady();
      await publisher.send(frames);
      await publisher.send(validFrames('after'));

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(zsub.stdoutLines).toHaveLength(1);
      const event = JSON.parse(zsub.stdoutLines[0] as string) as ZpubEvent;
      expect(event.data).toBe('after');
      expect(zsub.stderrLines).toHaveLength(2);
      expect(zsub.stderrLines[0]).toBe(ready);
      if (typeof notice === 'string') {
        expect(zsub.stderrLines[1]).toBe(notice);
      } else {
        expect(zsub.stderrLines[1]).toMatch(notice);
      }
    },
  );
});

describe('ready line', () => {
  it('comes before notices of earlier messages', async () => {
    // This publisher sends no hello reply, so zsub prints its ready line
    // 500 ms after the handshake, and a message sent before then is reported
    // while zsub still buffers its notices.
    const publisher = await openRawPublisher(false);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--json',
      '--count',
      '1',
    ]);
    await publisher.helloReceived;
    await publisher.send(['number', '']);
    const ready = await zsub.waitForReady();
    await publisher.send(validFrames('after'));

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines).toEqual([
      ready,
      'zsub: skipped message on topic "number" (6 bytes): payload frame is empty',
    ]);
  });
});

describe('reconnection', () => {
  it('prints disconnected and reconnected lines', async () => {
    const first = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
    const endpoint = first.endpoint;
    const zsub = new ZsubProcess([
      '--endpoint',
      endpoint,
      '--raw',
      '--count',
      '1',
    ]);
    await zsub.waitForReady();
    await first.close();
    await zsub.waitForStderr('zsub: disconnected from');
    const second = await Publisher.open({ endpoint });
    try {
      await zsub.waitForStderr('zsub: reconnected to');
      second.publish('number', 'after');

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(zsub.stdoutLines).toEqual(['after']);
      expect(zsub.stderrLines.slice(1)).toEqual([
        `zsub: disconnected from ${endpoint}, reconnecting`,
        `zsub: reconnected to ${endpoint}`,
      ]);
    } finally {
      await second.close();
    }
  });
});
