import { setTimeout as sleep } from 'node:timers/promises';
import type { BlastResult } from './blaster.js';
import { startSubscriber } from './harness.js';
import { SERVER_CORE, Worker } from './processes.js';
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
