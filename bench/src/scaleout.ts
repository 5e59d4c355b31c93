import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect as connectNats, nanos } from '@nats-io/transport-node';
import { PRINT_TOPIC, STAMP_TOPIC, numberTopic, prefixedTopic } from './app.js';
import {
  receivedOn,
  snapshot,
  startServer,
  startSubscriber,
  waitForEvents,
  type BenchServer,
  type ServerOptions,
} from './harness.js';
import { PEER_URLS } from './peers.js';
import {
  LOAD_CORE,
  addExitTask,
  captureOutput,
  spawnPinned,
  type Worker,
} from './processes.js';
import type { ServerStats } from './server.js';
import type { SubscriberStats } from './subscriber.js';
import { median } from './stats.js';
import {
  EVENTS_PER_REQUEST,
  mediansOf,
  pace,
  pairedRatio,
  saturate,
  stopAll,
  type DeliveryCheck,
  type Medians,
  type RunRecord,
  type SteadyRecord,
  type SuiteOptions,
  type Variant,
} from './suites.js';

/** The variants of the suite, in the order of each round. */
export const SCALEOUT_VARIANTS = [
  'zeromq',
  'nats',
  'jetstream',
  'proxy',
] as const;
export type ScaleoutVariant = (typeof SCALEOUT_VARIANTS)[number];

/** Streams this harness creates are named this, then its process id. */
export const STREAM_PREFIX = 'ZPUB_BENCH_';

const NATS_ENDPOINT = `nats://${PEER_URLS.nats}`;
const PROXY_STARTUP_TIMEOUT_MS = 15_000;
/** Maximum wait for the publisher's queue and pending acknowledgements to empty, in ms. */
const PUBLISHER_DRAIN_TIMEOUT_MS = 15_000;
/**
 * Limits of the suite's stream. They bound what a run stores, and an old
 * stream left behind after the harness was killed empties within the hour.
 */
const STREAM_MAX_AGE_MS = 60 * 60 * 1000;
const STREAM_MAX_BYTES = 2 * 1024 ** 3;

/** One phase's delivery check of one variant. */
export interface ScaleoutDelivery extends DeliveryCheck {
  /** Events the publisher handed to its transport. */
  published: number;
  /** JetStream acknowledgement counters; absent without a stream. */
  acks?: { acknowledged: number; failures: number; timeouts: number };
}

export interface ScaleoutResult {
  /** Measured rounds of each phase. */
  rounds: number;
  saturation: {
    runs: RunRecord[];
    medians: Record<string, Medians>;
    /** Throughput over that of direct ZeroMQ in the same round, median. */
    ratio: Record<string, number>;
  };
  steady: {
    runs: SteadyRecord[];
    cpuPerRequestUs: Record<string, number>;
    /**
     * The request rate each variant reached, median, per second: below the
     * paced rate when the server could not keep up with it.
     */
    rate: Record<string, number>;
  };
  /** The zsub proxy's CPU per event, medians, in µs; absent when skipped. */
  proxyCpuPerEventUs?: { saturation: number; steady: number };
  /** Messages the proxy forwarded and events the server published in all. */
  proxyForwarded?: { messages: number; events: number };
  delivery: Record<
    string,
    { saturation: ScaleoutDelivery; steady: ScaleoutDelivery }
  >;
  /** The JetStream variant's stream, and the events it held at the end. */
  stream?: { name: string; subjects: string[]; stored: number };
  /** Events of other publishers that each subscriber received and ignored. */
  foreignEvents: Record<string, number>;
  /** Variants that could not be measured, with the reason. */
  skipped: Record<string, string>;
}

/**
 * Returns whether a check is exact: one request event and one `number`
 * event per response, no gap, no drop, and with JetStream every event
 * acknowledged without failure or timeout.
 */
export function isExact(check: Omit<ScaleoutDelivery, 'exact'>): boolean {
  const delivered =
    check.requestEvents === check.responses &&
    check.numberEvents === check.responses &&
    check.missed === 0 &&
    check.dropped === 0;
  if (check.acks === undefined) {
    return delivered;
  }

  return (
    delivered &&
    check.acks.failures === 0 &&
    check.acks.timeouts === 0 &&
    check.acks.acknowledged === check.published
  );
}

/**
 * Subtracts an earlier check of one variant from a later one, which gives
 * the check of the phase between them.
 */
export function deliveryBetween(
  before: ScaleoutDelivery,
  after: ScaleoutDelivery,
): ScaleoutDelivery {
  const difference: Omit<ScaleoutDelivery, 'exact'> = {
    responses: after.responses - before.responses,
    requestEvents: after.requestEvents - before.requestEvents,
    numberEvents: after.numberEvents - before.numberEvents,
    missed: after.missed - before.missed,
    dropped: after.dropped - before.dropped,
    published: after.published - before.published,
  };
  if (after.acks !== undefined) {
    const earlier = before.acks ?? {
      acknowledged: 0,
      failures: 0,
      timeouts: 0,
    };
    difference.acks = {
      acknowledged: after.acks.acknowledged - earlier.acknowledged,
      failures: after.acks.failures - earlier.failures,
      timeouts: after.acks.timeouts - earlier.timeouts,
    };
  }

  return { ...difference, exact: isExact(difference) };
}

/**
 * Reads the frontend and backend from the ready line of `zsub proxy`, or
 * returns undefined while that line has not arrived.
 */
export function parseProxyReady(
  output: string,
): { frontend: string; backend: string } | undefined {
  const match = /proxy ready, frontend (\S+), backend ([^\s,]+)/.exec(output);
  if (match === null) {
    return undefined;
  }

  return { frontend: match[1] ?? '', backend: match[2] ?? '' };
}

/** Reads the count of forwarded messages from the line `zsub proxy` writes when it stops. */
export function parseProxyForwarded(output: string): number | undefined {
  const match = /proxy stopped after forwarding (\d+) messages/.exec(output);

  return match === null ? undefined : Number(match[1]);
}

/** Returns the process id in the name of a stream this harness created, or undefined for other streams. */
export function streamOwnerPid(name: string): number | undefined {
  if (!name.startsWith(STREAM_PREFIX)) {
    return undefined;
  }
  const pid = name.slice(STREAM_PREFIX.length);

  return /^[1-9][0-9]*$/.test(pid) ? Number(pid) : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `work` with a JetStream manager of the local NATS server. */
async function withStreams<T>(
  work: (manager: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
): Promise<T> {
  const connection = await connectNats({ servers: PEER_URLS.nats });
  try {
    return await work(await jetstreamManager(connection));
  } finally {
    await connection.close();
  }
}

/**
 * Creates the suite's stream, after deleting the streams of earlier runs
 * whose harness is gone, such as one killed with SIGKILL.
 */
async function createStream(name: string, subjects: string[]): Promise<void> {
  await withStreams(async (manager) => {
    for await (const info of manager.streams.list()) {
      const owner = streamOwnerPid(info.config.name);
      if (owner !== undefined && owner !== process.pid && !isRunning(owner)) {
        await manager.streams.delete(info.config.name);
        process.stderr.write(
          `bench: deleted stream ${info.config.name} of an earlier run (process ${owner} is gone)\n`,
        );
      }
    }
    // The settings that @zpub/nats gives a stream it creates, with lower
    // limits.
    await manager.streams.add({
      name,
      subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(STREAM_MAX_AGE_MS),
      max_bytes: STREAM_MAX_BYTES,
    });
  });
}

async function storedMessages(name: string): Promise<number> {
  return withStreams(
    async (manager) => (await manager.streams.info(name)).state.messages,
  );
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

async function deleteStream(name: string): Promise<void> {
  await withStreams(async (manager) => {
    await manager.streams.delete(name).catch((error: unknown) => {
      if (!isStreamNotFound(error)) {
        throw error;
      }
    });
  });
}

/** Returns the path of the zsub bin of apps/sub, which `pnpm bench` builds. */
function zsubBin(): string {
  const manifestPath = createRequire(import.meta.url).resolve(
    'sub/package.json',
  );
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    bin: { zsub: string };
  };

  return join(dirname(manifestPath), manifest.bin.zsub);
}

/** A running `zsub proxy`, pinned to the load core like the subscribers. */
interface ProxyProcess {
  child: ChildProcess;
  pid: number;
  frontend: string;
  backend: string;
  /** Stops the proxy and returns the messages it forwarded, or undefined when its output has no count. */
  stop(): Promise<number | undefined>;
}

// NOTE: unlike the workers, which exit when their IPC channel closes, the
// proxy outlives a harness killed with SIGKILL; every other way the
// harness ends kills it.
async function startProxy(): Promise<ProxyProcess> {
  const child = spawnPinned(LOAD_CORE, process.execPath, [
    zsubBin(),
    'proxy',
    '--frontend',
    'tcp://127.0.0.1:0',
    '--backend',
    'tcp://127.0.0.1:0',
  ]);
  const output = captureOutput(child);
  const endpoints = await new Promise<{ frontend: string; backend: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `zsub proxy did not start in ${PROXY_STARTUP_TIMEOUT_MS} ms: ${output()}`,
          ),
        );
      }, PROXY_STARTUP_TIMEOUT_MS);
      child.stderr?.on('data', () => {
        const ready = parseProxyReady(output());
        if (ready !== undefined) {
          clearTimeout(timer);
          resolve(ready);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `zsub proxy exited (${code ?? signal}) while starting: ${output()}`,
          ),
        );
      });
    },
  );
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error('zsub proxy has no process id');
  }

  return {
    child,
    pid,
    ...endpoints,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
        await exited;
        clearTimeout(timer);
      }

      return parseProxyForwarded(output());
    },
  };
}

/**
 * Waits until the server's publisher has sent every queued event and, with
 * JetStream, has every acknowledgement, and returns the server's counters.
 */
async function drainedStats(server: BenchServer): Promise<ServerStats> {
  const deadline = performance.now() + PUBLISHER_DRAIN_TIMEOUT_MS;
  for (;;) {
    const { stats } = await snapshot(server);
    const publisher = stats.publisher;
    const busy =
      publisher !== undefined &&
      (publisher.queueDepth > 0 || (publisher.awaitingAck ?? 0) > 0);
    if (!busy || performance.now() >= deadline) {
      return stats;
    }
    await sleep(100);
  }
}

/** Counts what the variant's subscriber received since it started. */
async function countDelivery(variant: Variant): Promise<ScaleoutDelivery> {
  const subscriber = variant.subscriber;
  if (subscriber === undefined) {
    throw new Error(`${variant.name} has no subscriber to check`);
  }
  const server = await drainedStats(variant.server);
  const stats = await waitForEvents(
    subscriber,
    server.responses * EVENTS_PER_REQUEST,
  );
  const prefix = variant.server.topicPrefix;
  const publisher = server.publisher;
  const check: Omit<ScaleoutDelivery, 'exact'> = {
    responses: server.responses,
    requestEvents:
      receivedOn(stats, prefixedTopic(prefix, PRINT_TOPIC)) +
      receivedOn(stats, prefixedTopic(prefix, STAMP_TOPIC)),
    numberEvents: receivedOn(stats, numberTopic(prefix)),
    missed: stats.missed,
    dropped: (publisher?.dropped ?? 0) + (publisher?.sendErrors ?? 0),
    published: publisher?.published ?? 0,
  };
  if (publisher?.acknowledged !== undefined) {
    check.acks = {
      acknowledged: publisher.acknowledged,
      failures: publisher.ackFailures ?? 0,
      timeouts: publisher.ackTimeouts ?? 0,
    };
  }

  return { ...check, exact: isExact(check) };
}

/** Starts a server and one live subscriber that counts only its events. */
async function startVariant(
  name: ScaleoutVariant,
  server: ServerOptions,
  subscriberEndpoint: (server: BenchServer) => string,
): Promise<Variant> {
  const started = await startServer('zpub', server);
  try {
    const subscriber = await startSubscriber(
      'zpub',
      subscriberEndpoint(started),
      {
        topics: [started.topicPrefix],
        instance: started.instance,
      },
    );
    return { name, server: started, subscriber };
  } catch (error) {
    await started.worker.stop();
    throw error;
  }
}

/** The runs and delivery checks of every variant. */
interface Measured {
  saturation: RunRecord[];
  steady: SteadyRecord[];
  delivery: ScaleoutResult['delivery'];
  foreignEvents: Record<string, number>;
}

/**
 * Saturates every variant, then paces it at the steady rate, in rounds,
 * and checks delivery after each phase.
 */
async function measureVariants(
  variants: readonly Variant[],
  options: SuiteOptions,
): Promise<Measured> {
  const saturation = await saturate(variants, options, '/print/7');
  const afterSaturation = new Map<string, ScaleoutDelivery>();
  for (const variant of variants) {
    afterSaturation.set(variant.name, await countDelivery(variant));
  }
  const steady = await pace(variants, options);
  const delivery: ScaleoutResult['delivery'] = {};
  const foreignEvents: Record<string, number> = {};
  for (const variant of variants) {
    const atEnd = await countDelivery(variant);
    const first = afterSaturation.get(variant.name) ?? atEnd;
    delivery[variant.name] = {
      saturation: first,
      steady: deliveryBetween(first, atEnd),
    };
    foreignEvents[variant.name] = (
      await (variant.subscriber as Worker).call<SubscriberStats>('stats')
    ).foreign;
  }

  return { saturation, steady, delivery, foreignEvents };
}

/** Takes the medians of the measured runs. */
function summarize(
  variants: readonly Variant[],
  measured: Measured,
  rounds: number,
  skipped: Record<string, string>,
): ScaleoutResult {
  const { saturation, steady } = measured;
  const perVariant = <T>(value: (name: string) => T): Record<string, T> =>
    Object.fromEntries(variants.map(({ name }) => [name, value(name)]));
  const steadyMedian = (name: string, field: 'cpuPerRequestUs' | 'rate') =>
    median(
      steady.filter((run) => run.variant === name).map((run) => run[field]),
    );
  const proxyMedian = (runs: readonly { proxyCpuPerEventUs?: number }[]) =>
    median(
      runs.flatMap((run) =>
        run.proxyCpuPerEventUs === undefined ? [] : [run.proxyCpuPerEventUs],
      ),
    );
  const result: ScaleoutResult = {
    rounds,
    saturation: {
      runs: saturation,
      medians: perVariant((name) => mediansOf(saturation, name)),
      ratio: perVariant((name) => pairedRatio(saturation, name, 'zeromq')),
    },
    steady: {
      runs: steady,
      cpuPerRequestUs: perVariant((name) =>
        steadyMedian(name, 'cpuPerRequestUs'),
      ),
      rate: perVariant((name) => steadyMedian(name, 'rate')),
    },
    delivery: measured.delivery,
    foreignEvents: measured.foreignEvents,
    skipped,
  };
  if (variants.some((variant) => variant.proxyPid !== undefined)) {
    result.proxyCpuPerEventUs = {
      saturation: proxyMedian(saturation),
      steady: proxyMedian(steady),
    };
  }

  return result;
}

/**
 * Measures zpub's scale-out transports beside direct ZeroMQ, each with one
 * live subscriber: the publisher over core NATS, over NATS with a JetStream
 * stream of this run, and over ZeroMQ through a `zsub proxy`. Each
 * variant's topics begin with a token of its own, so that its stream and
 * its subscriber see no other variant's events on the shared NATS server.
 */
export async function scaleoutSuite(
  options: SuiteOptions,
): Promise<ScaleoutResult> {
  const prefixOf = (name: ScaleoutVariant) => `scaleout-${process.pid}-${name}`;
  const streamName = `${STREAM_PREFIX}${process.pid}`;
  const streamSubjects = [`${prefixOf('jetstream')}.>`];
  const variants: Variant[] = [];
  const skipped: Record<string, string> = {};
  let proxy: ProxyProcess | undefined;
  let streamCreated = false;
  let removeExitTask: () => void = () => undefined;

  const starters: Record<ScaleoutVariant, () => Promise<Variant>> = {
    zeromq: () =>
      startVariant(
        'zeromq',
        { topicPrefix: prefixOf('zeromq') },
        (server) => server.endpoint ?? '',
      ),
    nats: () =>
      startVariant(
        'nats',
        { endpoint: NATS_ENDPOINT, topicPrefix: prefixOf('nats') },
        () => NATS_ENDPOINT,
      ),
    jetstream: async () => {
      removeExitTask = addExitTask(() => deleteStream(streamName));
      await createStream(streamName, streamSubjects);
      streamCreated = true;
      return startVariant(
        'jetstream',
        {
          endpoint: NATS_ENDPOINT,
          stream: { name: streamName, subjects: streamSubjects },
          topicPrefix: prefixOf('jetstream'),
        },
        () => NATS_ENDPOINT,
      );
    },
    proxy: async () => {
      proxy = await startProxy();
      const variant = await startVariant(
        'proxy',
        {
          endpoint: proxy.frontend,
          mode: 'connect',
          topicPrefix: prefixOf('proxy'),
        },
        () => proxy?.backend ?? '',
      );
      return { ...variant, proxyPid: proxy.pid };
    },
  };

  try {
    for (const name of SCALEOUT_VARIANTS) {
      try {
        variants.push(await starters[name]());
      } catch (error) {
        skipped[name] = (error as Error).message.split('\n')[0] ?? '';
      }
    }
    const measured = await measureVariants(variants, options);
    const result = summarize(variants, measured, options.rounds, skipped);
    const proxyVariant = variants.find((variant) => variant.name === 'proxy');
    if (proxy !== undefined && proxyVariant !== undefined) {
      // The server stops first, so that the proxy has forwarded everything
      // it sent when it reports its count.
      const { stats } = await snapshot(proxyVariant.server);
      await proxyVariant.server.worker.stop();
      const messages = await proxy.stop();
      if (messages !== undefined) {
        result.proxyForwarded = {
          messages,
          events: stats.publisher?.published ?? 0,
        };
      }
    }
    if (streamCreated) {
      result.stream = {
        name: streamName,
        subjects: streamSubjects,
        stored: await storedMessages(streamName),
      };
    }

    return result;
  } finally {
    await stopAll(variants);
    await proxy?.stop();
    if (streamCreated) {
      await deleteStream(streamName);
    }
    removeExitTask();
  }
}
