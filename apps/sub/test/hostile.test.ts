import type { ZpubEvent } from '@zpub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RawPublisher,
  ZsubProcess,
  killRunningZsubs,
  makeEvent,
} from './helpers.js';

const publishers: RawPublisher[] = [];

afterEach(async () => {
  await killRunningZsubs();
  for (const publisher of publishers.splice(0)) {
    publisher.close();
  }
});

async function openRawPublisher(): Promise<RawPublisher> {
  const publisher = await RawPublisher.open({ replyToHello: true });
  publishers.push(publisher);

  return publisher;
}

function validFrames(data: string): [string, string] {
  return ['number', JSON.stringify(makeEvent({ data }))];
}

const DEEP_NESTING = 100_000;
const HUGE_PAYLOAD_BYTES = 16 * 1024 * 1024;

interface HostileMessage {
  name: string;
  frames: (string | Buffer)[];
  /** The expected stderr line, or undefined when there is none. */
  notice: string | undefined;
}

const HOSTILE_MESSAGES: HostileMessage[] = [
  // libzmq has no message of zero frames: zeromq.js sends nothing for [].
  { name: 'zero frames', frames: [], notice: undefined },
  {
    name: 'nesting 100,000 levels deep',
    frames: [
      'number',
      `${'['.repeat(DEEP_NESTING)}${']'.repeat(DEEP_NESTING)}`,
    ],
    notice: `zsub: skipped message on topic "number" (${6 + 2 * DEEP_NESTING} bytes): payload nests deeper than 64 levels`,
  },
  {
    name: 'a 16 MB message',
    frames: ['number', Buffer.alloc(HUGE_PAYLOAD_BYTES, 0x20)],
    notice: `zsub: skipped message on topic "number" (${6 + HUGE_PAYLOAD_BYTES} bytes): message is ${6 + HUGE_PAYLOAD_BYTES} bytes, over the limit of 1048576`,
  },
];

describe('hostile messages', () => {
  it.each(HOSTILE_MESSAGES)(
    '$name is skipped and the next event printed',
    async ({ frames, notice }) => {
      const publisher = await openRawPublisher();
      const zsub = new ZsubProcess([
        '--endpoint',
        publisher.endpoint,
        '--json',
        '--count',
        '1',
      ]);
      const ready = await zsub.waitForReady();
      await publisher.send(frames);
      await publisher.send(validFrames('after'));

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      const event = JSON.parse(zsub.stdoutLines[0] ?? 'null') as ZpubEvent;
      expect(event.data).toBe('after');
      expect(zsub.stderrLines).toEqual(
        notice === undefined ? [ready] : [ready, notice],
      );
    },
  );

  it('keeps receiving after oversized messages', async () => {
    const publisher = await openRawPublisher();
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '10',
      '--max-message-size',
      '4096',
    ]);
    await zsub.waitForReady();
    for (let index = 0; index < 10; index++) {
      await publisher.send(['number', Buffer.alloc(2 * 1024 * 1024, 0x20)]);
      await publisher.send(validFrames(`after ${index}`));
    }

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(
      Array.from({ length: 10 }, (_, index) => `after ${index}`),
    );
    expect(
      zsub.stderrLines.filter((line) =>
        line.includes('over the limit of 4096'),
      ),
    ).toHaveLength(10);
  });
});

describe('--strict', () => {
  it('exits 1 at the first bad message', async () => {
    const publisher = await openRawPublisher();
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--strict',
    ]);
    const ready = await zsub.waitForReady();
    await publisher.send(validFrames('before'));
    await zsub.waitForStdoutLines(1);
    await publisher.send(['number', '{"specversion":"1.0"']);

    expect(await zsub.exited).toEqual({ code: 1, signal: null });
    expect(zsub.stdoutLines).toEqual(['before']);
    expect(zsub.stderrLines).toHaveLength(3);
    expect(zsub.stderrLines[0]).toBe(ready);
    expect(zsub.stderrLines[1]).toMatch(
      /^zsub: skipped message on topic "number" \(26 bytes\): payload is not valid JSON: /,
    );
    expect(zsub.stderrLines[2]).toBe(
      'zsub: stopped at the first message that could not be decoded (--strict)',
    );
  });
});
