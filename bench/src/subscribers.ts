import { openSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BlastResult } from './blaster.js';
import { startSubscriber } from './harness.js';
import { LOAD_CORE, SERVER_CORE, Worker, spawnPinned } from './processes.js';
import { processCpuUs } from './procfs.js';
import type { SubscriberStats } from './subscriber.js';

/** Events one subscriber received from a publisher that never waits. */
export interface SubscriberRun {
  subscriber: string;
  published: number;
  received: number;
  missed: number;
  /** Events received per second of the time the subscriber was busy. */
  eventsPerSecond: number;
  /** Events received per second of the subscriber's own CPU time. */
  eventsPerCpuSecond: number;
}

/**
 * Waits until a process has used no CPU for `quietMs` and returns when it
 * last did, in ms of performance.now().
 */
async function waitUntilIdle(
  pid: number,
  quietMs: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let cpu = processCpuUs(pid);
  let lastBusy = performance.now();
  while (performance.now() < deadline) {
    await sleep(50);
    const now = processCpuUs(pid);
    if (now !== cpu) {
      cpu = now;
      lastBusy = performance.now();
    } else if (performance.now() - lastBusy >= quietMs) {
      break;
    }
  }

  return lastBusy;
}

/**
 * Publishes batches as fast as the publisher's event loop turns for
 * `durationS` and measures what the subscribe() API takes of them.
 */
export async function subscribeApiSuite(
  durationS: number,
  perTurn: number,
): Promise<SubscriberRun> {
  const { worker: blaster, info } = await Worker.start(
    'blaster',
    SERVER_CORE,
    'blaster',
    [],
  );
  const subscriber = await startSubscriber('zpub', info.endpoint as string);
  try {
    const cpuBefore = processCpuUs(subscriber.pid);
    const start = performance.now();
    const blast = await blaster.call<BlastResult>('run', {
      durationMs: durationS * 1000,
      perTurn,
    });
    const idleAt = await waitUntilIdle(subscriber.pid, 500, 120_000);
    const cpuUs = processCpuUs(subscriber.pid) - cpuBefore;
    await blaster.call('tail');
    await sleep(300);
    const stats = await subscriber.call<SubscriberStats>('stats');
    const received = stats.received - 1;

    return {
      subscriber: 'subscribe()',
      published: blast.published,
      received,
      missed: stats.missed,
      eventsPerSecond: (received * 1000) / (idleAt - start),
      eventsPerCpuSecond: (received * 1e6) / cpuUs,
    };
  } finally {
    await Promise.all([subscriber.stop(), blaster.stop()]);
  }
}

/** zsub's command, built by `pnpm build` in apps/sub. */
export const ZSUB_BIN = fileURLToPath(
  new URL('../../apps/sub/bin/zsub.js', import.meta.url),
);

/** How long zsub may take to report that it is live. */
const ZSUB_READY_TIMEOUT_MS = 10_000;

/**
 * Publishes batches as fast as the publisher's event loop turns for
 * `durationS` and measures what `zsub --json > /dev/null` takes of them.
 * zsub reports each gap as a stderr line, and received is published less
 * the missed events those lines report.
 */
export async function zsubSuite(
  durationS: number,
  perTurn: number,
): Promise<SubscriberRun> {
  const { worker: blaster, info } = await Worker.start(
    'blaster',
    SERVER_CORE,
    'blaster',
    [],
  );
  const devNull = openSync('/dev/null', 'w');
  const zsub = spawnPinned(
    LOAD_CORE,
    process.execPath,
    [ZSUB_BIN, '--endpoint', info.endpoint as string, '--json'],
    ['ignore', devNull, 'pipe'],
  );
  closeSync(devNull);
  let missed = 0;
  const stderr: string[] = [];
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  createInterface({ input: zsub.stderr! }).on('line', (line) => {
    if (stderr.length < 20) {
      stderr.push(line);
    }
    const gap = /^zsub: missed (\d+) events? on topic/.exec(line);
    if (gap !== null) {
      missed += Number(gap[1]);
    } else if (line.startsWith('zsub: ready')) {
      markReady();
    }
  });
  try {
    const timeout = sleep(ZSUB_READY_TIMEOUT_MS).then(() => {
      throw new Error(
        `zsub did not report ready within ${ZSUB_READY_TIMEOUT_MS} ms: ${stderr.join('\n')}`,
      );
    });
    await Promise.race([ready, timeout]);
    const pid = zsub.pid as number;
    const cpuBefore = processCpuUs(pid);
    const start = performance.now();
    const blast = await blaster.call<BlastResult>('run', {
      durationMs: durationS * 1000,
      perTurn,
    });
    const idleAt = await waitUntilIdle(pid, 500, 120_000);
    const cpuUs = processCpuUs(pid) - cpuBefore;
    await blaster.call('tail');
    await sleep(500);
    const received = blast.published - missed;

    return {
      subscriber: 'zsub --json > /dev/null',
      published: blast.published,
      received,
      missed,
      eventsPerSecond: (received * 1000) / (idleAt - start),
      eventsPerCpuSecond: (received * 1e6) / cpuUs,
    };
  } finally {
    zsub.kill('SIGKILL');
    await blaster.stop();
  }
}

/** What one event costs the publisher when it is the only one in its turn. */
export interface MessageCost {
  /** Time between turns, in µs. */
  intervalUs: number;
  /** Publisher CPU per turn without publishing, in µs. */
  idleTurnUs: number;
  /** Publisher CPU per turn with one event, without and with a subscriber. */
  withoutSubscriberUs: number;
  withSubscriberUs: number;
}

/**
 * Publishes one event per turn at a low rate, as a server does under a
 * light load, and compares the publisher's CPU time with no event, with an
 * event no one receives, and with an event for a live subscriber.
 */
export async function messageCostSuite(
  intervalUs: number,
  count: number,
): Promise<MessageCost> {
  const { worker: blaster, info } = await Worker.start(
    'blaster',
    SERVER_CORE,
    'blaster',
    [],
  );
  let subscriber: Worker | undefined;
  try {
    const paced = (publish: boolean) =>
      blaster.call<number>('paced', { intervalUs, count, publish });
    await paced(true);
    const idleTurnUs = await paced(false);
    const withoutSubscriberUs = await paced(true);
    subscriber = await startSubscriber('zpub', info.endpoint as string);
    await paced(true);
    const withSubscriberUs = await paced(true);

    return { intervalUs, idleTurnUs, withoutSubscriberUs, withSubscriberUs };
  } finally {
    await Promise.all([
      subscriber?.stop() ?? Promise.resolve(),
      blaster.stop(),
    ]);
  }
}
