import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  Child,
  ZSUB_BIN,
  startServer,
  startZsub,
  type RunningServer,
  killedAfterEach,
} from './processes.js';

const children = killedAfterEach();

const agent = new Agent({ keepAlive: true, maxSockets: 50 });

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends GET /print/N for each N in `numbers`, 50 at a time. */
async function printAll(url: string, numbers: number[]): Promise<number[]> {
  const statuses: number[] = [];
  for (let start = 0; start < numbers.length; start += 50) {
    const batch = numbers.slice(start, start + 50);
    statuses.push(
      ...(await Promise.all(
        batch.map((number) => get(`${url}/print/${number}`)),
      )),
    );
  }

  return statuses;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => from + index);
}

async function start(args: string[] = []): Promise<RunningServer> {
  const server = await startServer(args);
  children.push(server.child);

  return server;
}

async function zsub(args: string[]): Promise<Child> {
  const child = await startZsub(args);
  children.push(child);

  return child;
}

/** Returns the resident set size of a process, in bytes, from /proc. */
async function rssOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);

  return Number(match?.[1]) * 1024;
}

/** The numbers in zsub's JSON lines on the number topic. */
function numbersOf(child: Child): number[] {
  return child.stdout
    .map((line) => JSON.parse(line) as { topic?: string; data?: unknown })
    .filter((event) => event.topic === 'number')
    .map((event) => (event.data as { number: number }).number);
}

function waitForStdout(child: Child, test: (line: string) => boolean) {
  return child.waitForLine('stdout', test, 10_000);
}

const MEGABYTE = 1024 * 1024;

describe('publisher restart', () => {
  const cases = [
    { signal: 'SIGTERM' as const, topics: 2 },
    { signal: 'SIGKILL' as const, topics: 2 },
    { signal: 'SIGTERM' as const, topics: 2000 },
    { signal: 'SIGKILL' as const, topics: 2000 },
  ];

  it.each(cases)(
    'by $signal with $topics topics: zsub recovers',
    async ({ signal, topics }) => {
      const first = await start();
      const extra = range(0, topics - 2).map((index) => `extra.${index}`);
      const subscriber = new Child(
        process.execPath,
        [ZSUB_BIN, '--endpoint', first.publish, '--json'],
        { ZSUB_TOPIC: ['number', 'http', ...extra].join(',') },
      );
      children.push(subscriber);
      await subscriber.waitForLine('stderr', (line) =>
        line.startsWith('zsub: ready'),
      );
      await printAll(first.url, [1]);
      await waitForStdout(subscriber, (line) => line.includes('"number":1'));

      first.child.kill(signal);
      await first.child.exited;
      await subscriber.waitForLine('stderr', (line) =>
        line.startsWith('zsub: disconnected from'),
      );
      const second = await start(['--publish', first.publish]);
      // libzmq retries every 100 ms, so zsub is live again well within 2 s
      // of the new publisher listening.
      await subscriber.waitForLine(
        'stderr',
        (line) => line.startsWith('zsub: reconnected to'),
        2000,
      );
      await printAll(second.url, [2]);
      const number = await waitForStdout(subscriber, (line) =>
        line.includes('"number":2'),
      );
      const http = await waitForStdout(
        subscriber,
        (line) =>
          line.includes('"topic":"http.GET.print.:number"') &&
          line.includes('"path":"/print/2"'),
      );
      const restart = await subscriber.waitForLine('stderr', (line) =>
        line.includes('restarted (instance'),
      );

      expect(number).toContain('"topic":"number"');
      expect(http).toContain('"status":200');
      expect(restart).toMatch(
        /^zsub: publisher zpub:\/\/.+ restarted \(instance [0-9a-f-]+ -> [0-9a-f-]+\); sequences start again$/,
      );
      expect(
        subscriber.stderr.filter((line) => line.includes('missed')),
      ).toEqual([]);
    },
  );
});

describe('a subscriber that stops reading', () => {
  it.each(['SIGSTOP', 'SIGKILL'] as const)(
    'after %s leaves requests and others unaffected',
    async (signal) => {
      const server = await start();
      const count = 3000;
      const reader = await zsub([
        '--endpoint',
        server.publish,
        '--topic',
        'number',
        '--json',
        '--count',
        String(count),
      ]);
      const stopped = await zsub(['--endpoint', server.publish, '--json']);
      stopped.kill(signal);
      const rssBefore = await rssOf(server.child.process.pid);

      const statuses = await printAll(server.url, range(0, count));
      const readerExit = await reader.exited;
      const rssAfter = await rssOf(server.child.process.pid);
      const growthMegabytes = (rssAfter - rssBefore) / MEGABYTE;

      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(readerExit.code).toBe(0);
      // Concurrent requests finish, and publish, in any order.
      expect(numbersOf(reader).sort((a, b) => a - b)).toEqual(range(0, count));
      // The stopped subscriber's queue is bounded by the send high-water
      // mark of 10,000 messages; 3,000 requests stay far below 100 MB.
      expect(
        growthMegabytes,
        `server RSS grew by ${growthMegabytes.toFixed(1)} MB`,
      ).toBeLessThan(100);
    },
  );
});

describe('shutdown with a stopped subscriber', () => {
  it('exits within the linger bound and delivers', async () => {
    const server = await start();
    const reader = await zsub([
      '--endpoint',
      server.publish,
      '--topic',
      'number',
      '--json',
    ]);
    const stopped = await zsub(['--endpoint', server.publish, '--json']);
    stopped.kill('SIGSTOP');

    const answered: number[] = [];
    const inFlight = range(0, 400).map((number) =>
      get(`${server.url}/print/${number}`).then(
        (status) => {
          if (status === 200) {
            answered.push(number);
          }
        },
        () => undefined,
      ),
    );
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (answered.length >= 100) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    const beforeSignal = [...answered];
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    const { code } = await server.child.exited;
    const exitMs = performance.now() - signalled;
    await Promise.all(inFlight);
    const expected = new Set(beforeSignal);
    await reader.waitForLine(
      'stdout',
      () => beforeSignal.every((number) => numbersOf(reader).includes(number)),
      10_000,
    );

    expect(code).toBe(0);
    // The linger is 1 s; the bound leaves room for in-flight requests and a
    // loaded machine, and is far below the 10 s forced exit.
    expect(exitMs, `exit took ${exitMs.toFixed(0)} ms`).toBeLessThan(5000);
    expect(
      numbersOf(reader).filter((number) => expected.has(number)),
    ).toHaveLength(beforeSignal.length);
  });
});
