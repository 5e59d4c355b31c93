import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchPublishOptions, ServerVariant } from './app.js';
import type { LoadResult } from './load.js';
import type { PeerKind } from './peers.js';
import {
  LOAD_CORE,
  SERVER_CORE,
  Worker,
  runPinned,
  workerScript,
} from './processes.js';
import { processCpuUs, waitForQuietMachine } from './procfs.js';
import type { ServerStats } from './server.js';
import type { SubscriberStats } from './subscriber.js';

/** A bench server worker and where it listens and publishes. */
export interface BenchServer {
  variant: ServerVariant;
  worker: Worker;
  url: string;
  /** The ZeroMQ endpoint, or the broker URL for a peer variant. */
  endpoint: string | undefined;
  /** `zpubinstance` of the server's events; undefined without publishing. */
  instance: string | undefined;
  /** First token of the server's topics; empty for the usual topics. */
  topicPrefix: string;
}

/** Publishing options of a bench server; every field is optional. */
export interface ServerOptions extends BenchPublishOptions {
  flushDelayMs?: number;
  /** The zpub variant's endpoint, to bind or connect. @default 'tcp://127.0.0.1:0' */
  endpoint?: string;
}

/** Starts a bench server on the server core. */
export async function startServer(
  variant: ServerVariant,
  options: ServerOptions = {},
): Promise<BenchServer> {
  const topicPrefix = options.topicPrefix ?? '';
  const args = [
    '--variant',
    variant,
    '--flush-delay-ms',
    String(options.flushDelayMs ?? 0),
    '--mode',
    options.mode ?? 'bind',
    '--topic-prefix',
    topicPrefix,
  ];
  if (options.endpoint !== undefined) {
    args.push('--publish', options.endpoint);
  }
  if (options.stream !== undefined) {
    args.push(
      '--stream',
      options.stream.name,
      '--stream-subjects',
      options.stream.subjects.join(','),
    );
  }
  const { worker, info } = await Worker.start(
    `server (${variant})`,
    SERVER_CORE,
    'server',
    args,
  );

  return {
    variant,
    worker,
    url: info.url as string,
    endpoint: info.endpoint as string | undefined,
    instance: info.instance as string | undefined,
    topicPrefix,
  };
}

/** Subscription and speed options of a subscriber worker. */
export interface SubscriberOptions {
  /** Busy wait per event, in µs. */
  slowUs?: number;
  /** ZMQ_RCVHWM, in messages; 0 keeps subscribe()'s default. */
  receiveHighWaterMark?: number;
  /** How long the busy wait lasts from the first event on, in ms. */
  slowForMs?: number;
  /** Topic filters of the zpub kind; none receives every topic. */
  topics?: readonly string[];
  /** Count only the events of this `zpubinstance`. */
  instance?: string;
}

/** Starts a subscriber worker on the load core and waits until it is live. */
export async function startSubscriber(
  kind: 'zpub' | PeerKind,
  endpoint: string | undefined,
  options: SubscriberOptions = {},
): Promise<Worker> {
  const args = [
    '--kind',
    kind,
    '--slow-us',
    String(options.slowUs ?? 0),
    '--receive-hwm',
    String(options.receiveHighWaterMark ?? 0),
    '--slow-for-ms',
    String(options.slowForMs ?? 0),
    '--topics',
    (options.topics ?? []).join(','),
  ];
  if (endpoint !== undefined) {
    args.push('--endpoint', endpoint);
  }
  if (options.instance !== undefined) {
    args.push('--instance', options.instance);
  }
  const { worker } = await Worker.start(
    `subscriber (${kind})`,
    LOAD_CORE,
    'subscriber',
    args,
  );

  return worker;
}

/** Server counters and CPU time at one moment. */
export interface ServerSnapshot {
  stats: ServerStats;
  cpuUs: number;
}

export async function snapshot(server: BenchServer): Promise<ServerSnapshot> {
  const stats = await server.worker.call<ServerStats>('stats');

  return { stats, cpuUs: processCpuUs(server.worker.pid) };
}

/** Responses and server CPU time of one measured load run. */
export interface Window<T> {
  result: T;
  responses: number;
  cpuUs: number;
  /** Server CPU time per response, in microseconds. */
  cpuPerRequestUs: number;
  /** CPU time of each of the other processes measured, in microseconds. */
  otherCpuUs: number[];
}

/**
 * Runs `load` and measures the server's responses and CPU time around it,
 * and the CPU time of the processes `otherPids`, after waiting at most
 * `quietWaitMs` for the machine to be quiet.
 */
export async function measure<T>(
  server: BenchServer,
  load: () => Promise<T>,
  quietWaitMs: number,
  otherPids: readonly number[] = [],
): Promise<Window<T>> {
  await waitForQuietMachine(quietWaitMs);
  const before = await snapshot(server);
  const othersBefore = otherPids.map(processCpuUs);
  const result = await load();
  const after = await snapshot(server);
  const othersAfter = otherPids.map(processCpuUs);
  const responses = after.stats.responses - before.stats.responses;
  const cpuUs = after.cpuUs - before.cpuUs;

  return {
    result,
    responses,
    cpuUs,
    cpuPerRequestUs: cpuUs / responses,
    otherCpuUs: othersAfter.map(
      (cpu, index) => cpu - (othersBefore[index] ?? 0),
    ),
  };
}

/** Sends requests at a fixed rate from the load core with load.ts. */
export async function runPaced(
  url: string,
  rate: number,
  durationMs: number,
): Promise<LoadResult> {
  const output = await runPinned(
    LOAD_CORE,
    process.execPath,
    [
      workerScript('load'),
      '--mode',
      'paced',
      '--url',
      url,
      '--rate',
      String(rate),
      '--duration-ms',
      String(durationMs),
    ],
    durationMs + 20_000,
  );

  return JSON.parse(output) as LoadResult;
}

/**
 * Waits until a subscriber has received `expected` events, or its count has
 * stopped growing for `quietMs`, and returns its last stats.
 */
export async function waitForEvents(
  subscriber: Worker,
  expected: number,
  quietMs = 1000,
  timeoutMs = 30_000,
): Promise<SubscriberStats> {
  const deadline = performance.now() + timeoutMs;
  let stats = await subscriber.call<SubscriberStats>('stats');
  let lastChange = performance.now();
  while (stats.received < expected && performance.now() < deadline) {
    await sleep(100);
    const next = await subscriber.call<SubscriberStats>('stats');
    if (next.received !== stats.received) {
      lastChange = performance.now();
    } else if (performance.now() - lastChange > quietMs) {
      return next;
    }
    stats = next;
  }

  return stats;
}

/** Sums the events of all topics of a subscriber that match `prefix`. */
export function receivedOn(stats: SubscriberStats, topic: string): number {
  return stats.topics[topic]?.received ?? 0;
}
