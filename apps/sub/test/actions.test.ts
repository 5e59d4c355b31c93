import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestEventData, ZpubEvent } from '@zpub/protocol';
import { Publisher } from '@zpub/client';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
} from 'vitest';
import {
  RawPublisher,
  ZsubProcess,
  isRunning,
  killRunningZsubs,
  requestEvent,
} from './helpers.js';
import { startServer, type RunningServer } from './server.js';

let server: RunningServer;
let directory: string;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'zsub-actions-'));
});

afterEach(async () => {
  await killRunningZsubs();
  await rm(directory, { recursive: true, force: true });
});

/** Starts zsub on the server's endpoint and waits for its ready line. */
async function startZsub(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ZsubProcess> {
  const zsub = new ZsubProcess(['--endpoint', server.publish, ...args], env);
  await zsub.waitForReady();

  return zsub;
}

function parseEvents(lines: readonly string[]): ZpubEvent<RequestEventData>[] {
  return lines.map((line) => JSON.parse(line) as ZpubEvent<RequestEventData>);
}

describe('--format', () => {
  it('prints fields of request events', async () => {
    const zsub = await startZsub([
      '--topic',
      'http',
      '--format',
      '{data.method} {data.route} {data.status}\\t{data.params.number}[{data.nothing}]',
      '--count',
      '2',
    ]);
    await server.get('/print/7', '/print/x');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual([
      'GET /print/:number 200\t7[]',
      'GET /print/:number 400\tx[]',
    ]);
  });

  it('ends events with NUL for \\0', async () => {
    const zsub = await startZsub([
      '--topic',
      'http',
      '--format',
      '{data.path}\\0',
      '--count',
      '2',
    ]);
    await server.get('/print/1', '/print/2');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdout).toBe('/print/1\0/print/2\0');
  });

  it('formats the event time', async () => {
    const zsub = await startZsub(
      [
        '--topic',
        'number',
        '--format',
        '{time:%F %T.%L} {data.number}',
        '--count',
        '1',
      ],
      { TZ: 'UTC' },
    );
    await server.get('/print/3');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines[0]).toMatch(
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} 3$/,
    );
  });
});

describe('ZSUB_FORMAT', () => {
  it('sets the template', async () => {
    const zsub = await startZsub(['--topic', 'number', '--count', '1'], {
      ZSUB_FORMAT: 'n={data.number}',
    });
    await server.get('/print/4');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['n=4']);
  });

  it('yields to --raw on the command line', async () => {
    const zsub = await startZsub(
      ['--topic', 'number', '--raw', '--count', '1'],
      { ZSUB_FORMAT: 'n={data.number}' },
    );
    await server.get('/print/4');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['{"number":4}']);
  });
});

describe('request filters', () => {
  it('combine method, status and route', async () => {
    const zsub = await startZsub([
      '--method',
      'get',
      '--status',
      '4xx',
      '--route',
      '/print/*',
      '--format',
      '{data.path} {data.status}',
      '--count',
      '2',
    ]);
    // Dropped: a 200, a 404 off the route, and the `number` event of
    // /print/1, which is no request event.
    await server.get('/print/1', '/nothing', '/print/x', '/print/y');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['/print/x 400', '/print/y 400']);
  });

  it('--exclude drops a topic and those under it', async () => {
    const zsub = await startZsub([
      '--exclude',
      'http.GET.print',
      '--format',
      '{topic}',
      '--count',
      '2',
    ]);
    await server.get('/print/1', '/');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['number', 'http.GET._root']);
  });

  it('--slower-than passes slow requests only', async () => {
    const publisher = await RawPublisher.open({ replyToHello: true });
    try {
      const zsub = new ZsubProcess([
        '--endpoint',
        publisher.endpoint,
        '--slower-than',
        '0.25s',
        '--format',
        '{data.durationMs}',
        '--count',
        '2',
      ]);
      await zsub.waitForReady();
      for (const durationMs of [10, 250, 251, 300]) {
        const event = requestEvent({ durationMs });
        await publisher.send([event.topic as string, JSON.stringify(event)]);
      }

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(zsub.stdoutLines).toEqual(['251', '300']);
    } finally {
      publisher.close();
    }
  });
});

describe('--expect', () => {
  it('exits 0 on the first matching event', async () => {
    const zsub = await startZsub([
      '--expect',
      'status=404 path=/checkout',
      '--timeout',
      '10',
    ]);
    await server.get('/print/1', '/other', '/checkout', '/checkout');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const events = parseEvents(zsub.stdoutLines);
    expect(events).toHaveLength(1);
    expect(events[0]?.data?.path).toBe('/checkout');
    expect(events[0]?.data?.status).toBe(404);
  });

  it('exits 124 when nothing matches in time', async () => {
    const zsub = await startZsub([
      '--expect',
      'status=5xx',
      '--timeout',
      '0.5',
    ]);
    await server.get('/print/1', '/other');

    expect(await zsub.exited).toEqual({ code: 124, signal: null });
    expect(zsub.stdoutLines).toEqual([]);
    expect(zsub.stderrLines.at(-1)).toMatch(
      /^zsub: timed out after 0\.5 s, no event matched --expect "status=5xx" \(\d+ events received\)$/,
    );
  });
});

describe('--exec', () => {
  it('passes the event on stdin and in variables', async () => {
    const zsub = await startZsub([
      '--topic',
      'http',
      '--exec',
      'echo "$ZSUB_ID|$ZSUB_TOPIC|$ZSUB_TYPE|$ZSUB_SEQUENCE|$ZSUB_METHOD|$ZSUB_ROUTE|$ZSUB_STATUS|$ZSUB_DURATION_MS"; cat',
      '--count',
      '2',
    ]);
    await server.get('/print/1', '/print/x');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toHaveLength(4);
    for (const index of [0, 2]) {
      const fields = (zsub.stdoutLines[index] as string).split('|');
      const event = JSON.parse(
        zsub.stdoutLines[index + 1] as string,
      ) as ZpubEvent<RequestEventData>;
      expect(fields).toEqual([
        event.id,
        'http.GET.print.:number',
        'dev.zpub.http.request',
        event.sequence,
        'GET',
        '/print/:number',
        String(event.data?.status),
        String(event.data?.durationMs),
      ]);
    }
    expect(zsub.stderrLines.at(-1)).toBe(
      'zsub: exec ran 2 commands: 2 succeeded, 0 failed',
    );
  });

  it('leaves request variables unset for messages', async () => {
    const zsub = await startZsub(
      [
        '--topic',
        'number',
        '--exec',
        'echo "$ZSUB_TOPIC ${ZSUB_METHOD-unset} ${ZSUB_STATUS-unset}"',
        '--count',
        '1',
      ],
      { ZSUB_METHOD: 'inherited', ZSUB_STATUS: 'inherited' },
    );
    await server.get('/print/1');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['number unset unset']);
  });

  it('counts failures and goes on', async () => {
    const zsub = await startZsub([
      '--topic',
      'http',
      '--exec',
      'test "$ZSUB_STATUS" != 400',
      '--count',
      '3',
    ]);
    await server.get('/print/1', '/print/x', '/print/2');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const failures = zsub.stderrLines.filter((line) =>
      line.includes('exec failed'),
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(
      /^zsub: exec failed for event \S+ on topic "http\.GET\.print\.:number": exit code 1$/,
    );
    expect(zsub.stderrLines.at(-1)).toBe(
      'zsub: exec ran 3 commands: 2 succeeded, 1 failed',
    );
  });

  it('--exec-timeout kills a hung command', async () => {
    const zsub = await startZsub([
      '--topic',
      'number',
      '--exec',
      'sleep 30',
      '--exec-timeout',
      '0.2',
      '--count',
      '1',
    ]);
    await server.get('/print/1');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines.slice(1)).toEqual([
      expect.stringMatching(
        /^zsub: exec failed for event \S+ on topic "number": timed out after 0\.2 s and was killed$/,
      ),
      'zsub: exec ran 1 command: 0 succeeded, 1 failed (1 timed out)',
    ]);
  });

  it('runs in event order at concurrency 1', async () => {
    // Earlier events sleep longer, so that overlapping runs would reorder.
    const zsub = await startZsub([
      '--topic',
      'number',
      '--exec',
      `n=$(sed 's/.*"number":\\([0-9]*\\).*/\\1/'); sleep "0.0$((6 - n))"; echo "$n"`,
      '--count',
      '5',
    ]);
    await server.get(
      '/print/1',
      '/print/2',
      '/print/3',
      '/print/4',
      '/print/5',
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['1', '2', '3', '4', '5']);
  });

  it('--concurrency runs commands at once', async () => {
    const gate = join(directory, 'gate');
    // Each command waits for the gate, which opens only once all three have
    // started, so at --concurrency 1 the test would time out.
    const zsub = await startZsub([
      '--topic',
      'number',
      '--exec',
      `echo started; while [ ! -e "${gate}" ]; do sleep 0.01; done`,
      '--concurrency',
      '3',
      '--count',
      '3',
    ]);
    await server.get('/print/1', '/print/2', '/print/3');
    await zsub.waitForStdoutLines(3);
    await writeFile(gate, '');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['started', 'started', 'started']);
  });

  it('reports events skipped with the backlog full', async () => {
    const publisher = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
    try {
      const gate = join(directory, 'gate');
      const zsub = new ZsubProcess([
        '--endpoint',
        publisher.endpoint,
        '--exec',
        `echo "$ZSUB_SEQUENCE"; while [ ! -e "${gate}" ]; do sleep 0.01; done`,
        '--exec-backlog',
        '1',
        '--count',
        '3',
      ]);
      await zsub.waitForReady();
      // 1 runs, 2 waits, 3 and 4 find the backlog full.
      for (let value = 1; value <= 4; value++) {
        publisher.publish('number', value);
      }
      await zsub.waitForStderr('exec backlog is full');
      await writeFile(gate, '');
      await zsub.waitForStdoutLines(2);
      publisher.publish('number', 5);

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(zsub.stdoutLines).toEqual(['1', '2', '5']);
      expect(zsub.stderrLines.slice(1)).toEqual([
        'zsub: exec backlog is full (1 event waiting); skipping new events until a command finishes',
        'zsub: skipped 2 events while the exec backlog was full',
        'zsub: exec ran 3 commands: 3 succeeded, 0 failed, 2 events skipped with the backlog full',
      ]);
    } finally {
      await publisher.close();
    }
  });

  it('SIGINT exits 130 and stops the commands', async () => {
    const zsub = await startZsub([
      '--topic',
      'number',
      '--exec',
      'echo $$; exec sleep 30',
      '--concurrency',
      '2',
    ]);
    await server.get('/print/1', '/print/2');
    const pids = (await zsub.waitForStdoutLines(2)).map(Number);
    const sent = performance.now();
    zsub.child.kill('SIGINT');
    const status = await zsub.exited;
    const elapsedMs = performance.now() - sent;

    expect(status).toEqual({ code: 130, signal: null });
    // The bound is far looser than the 100 ms zsub waits for the commands,
    // so that a loaded machine does not fail the test.
    expect(elapsedMs, `exit took ${elapsedMs.toFixed(0)} ms`).toBeLessThan(
      2000,
    );
    expect(pids.filter(isRunning)).toEqual([]);
    expect(zsub.stderrLines.at(-1)).toBe(
      'zsub: exec ran 2 commands: 0 succeeded, 0 failed, 2 stopped at exit',
    );
  });
});
