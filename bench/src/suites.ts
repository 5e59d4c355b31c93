import { setTimeout as sleep } from 'node:timers/promises';
import {
  PRINT_TOPIC,
  STAMP_TOPIC,
  numberTopic,
  type ServerVariant,
} from './app.js';
import {
  measure,
  receivedOn,
  runPaced,
  snapshot,
  startServer,
  startSubscriber,
  waitForEvents,
  type BenchServer,
  type Window,
} from './harness.js';
import { PEER_KINDS, type PeerKind } from './peers.js';
import type { Worker } from './processes.js';
import { processRssBytes } from './procfs.js';
import { median } from './stats.js';
import type { LatencySummary } from './stats.js';
import type { SubscriberStats } from './subscriber.js';
import { runWrk } from './wrk.js';

export { PRINT_TOPIC, STAMP_TOPIC };

export interface SuiteOptions {
  rounds: number;
  /** Length of one measured run, in seconds. */
  durationS: number;
  /** Length of the warm-up run of each server, in seconds. */
  warmupS: number;
  /** wrk connections. */
  connections: number;
  /** Request rate of the steady runs, per second. */
  steadyRate: number;
  /** The longest wait for a quiet machine before each measured run, in ms. */
  quietWaitMs: number;
}

/** Events each request of the bench app publishes: its request event and `number`. */
export const EVENTS_PER_REQUEST = 2;

/** One measured run of one variant. */
export interface RunRecord {
  variant: string;
  round: number;
  requestsPerSecond: number;
  cpuPerRequestUs: number;
  /** CPU time of the variant's proxy process per event, in µs. */
  proxyCpuPerEventUs?: number;
  responses: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
}

/** Whether every published event reached a subscriber that keeps up. */
export interface DeliveryCheck {
  responses: number;
  /** Request events received, on the route's topic. */
  requestEvents: number;
  /** `number` events received. */
  numberEvents: number;
  /** Events that gap notices reported missing. */
  missed: number;
  /** Events the publisher dropped or failed to send. */
  dropped: number;
  exact: boolean;
}

export interface Variant {
  name: string;
  server: BenchServer;
  subscriber?: Worker;
  /** A process between the server and the subscriber, such as a zsub proxy. */
  proxyPid?: number;
}

export interface Medians {
  requestsPerSecond: number;
  cpuPerRequestUs: number;
}

export function mediansOf(
  runs: readonly RunRecord[],
  variant: string,
): Medians {
  const own = runs.filter((run) => run.variant === variant);

  return {
    requestsPerSecond: median(own.map((run) => run.requestsPerSecond)),
    cpuPerRequestUs: median(own.map((run) => run.cpuPerRequestUs)),
  };
}

/** Median over rounds of `variant`'s throughput divided by `baseline`'s. */
export function pairedRatio(
  runs: readonly RunRecord[],
  variant: string,
  baseline: string,
): number {
  return median(
    pairs(runs, variant, baseline).map(
      ([run, base]) => run.requestsPerSecond / base.requestsPerSecond,
    ),
  );
}

/** The fields of a measured run that paired comparisons use. */
interface Paired {
  variant: string;
  round: number;
  requestsPerSecond?: number;
  cpuPerRequestUs: number;
}

/** Median over rounds of the CPU per request `variant` adds to `baseline`. */
function pairedExtraCpu(
  runs: readonly Paired[],
  variant: string,
  baseline: string,
): number {
  return median(
    pairs(runs, variant, baseline).map(
      ([run, base]) => run.cpuPerRequestUs - base.cpuPerRequestUs,
    ),
  );
}

function pairs<T extends Paired>(
  runs: readonly T[],
  variant: string,
  baseline: string,
): [T, T][] {
  const result: [T, T][] = [];
  for (const run of runs.filter((candidate) => candidate.variant === variant)) {
    const base = runs.find(
      (candidate) =>
        candidate.variant === baseline && candidate.round === run.round,
    );
    if (base !== undefined) {
      result.push([run, base]);
    }
  }

  return result;
}

export async function stopAll(variants: readonly Variant[]): Promise<void> {
  await Promise.all(
    variants.flatMap((variant) => [
      variant.subscriber?.stop() ?? Promise.resolve(),
      variant.server.worker.stop(),
    ]),
  );
}

function proxyPids(variant: Variant): number[] {
  return variant.proxyPid === undefined ? [] : [variant.proxyPid];
}

/** Computes the proxy's CPU per event of a window measured with {@link proxyPids}. */
function proxyCpu(
  variant: Variant,
  window: Window<unknown>,
): { proxyCpuPerEventUs?: number } {
  const cpuUs = window.otherCpuUs[0];
  if (variant.proxyPid === undefined || cpuUs === undefined) {
    return {};
  }

  return {
    proxyCpuPerEventUs: cpuUs / (window.responses * EVENTS_PER_REQUEST),
  };
}

/** Runs wrk against every variant, in turn, for `rounds` rounds after a warm-up. */
export async function saturate(
  variants: readonly Variant[],
  options: SuiteOptions,
  path: string,
): Promise<RunRecord[]> {
  for (const variant of variants) {
    await runWrk(
      variant.server.url + path,
      options.warmupS,
      options.connections,
    );
  }
  const runs: RunRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const variant of variants) {
      const window = await measure(
        variant.server,
        () =>
          runWrk(
            variant.server.url + path,
            options.durationS,
            options.connections,
          ),
        options.quietWaitMs,
        proxyPids(variant),
      );
      runs.push({
        variant: variant.name,
        round,
        requestsPerSecond: window.result.requestsPerSecond,
        cpuPerRequestUs: window.cpuPerRequestUs,
        ...proxyCpu(variant, window),
        responses: window.responses,
        latencyP50Ms: window.result.latencyMs.p50,
        latencyP99Ms: window.result.latencyMs.p99,
        errors: window.result.socketErrors + window.result.non2xx,
      });
    }
  }

  return runs;
}

/**
 * Compares what a subscriber received, since it started, with what the
 * server served, once the subscriber has caught up. `requestTopics` are
 * the topics of the request events, with the server's prefix.
 */
export async function checkDelivery(
  variant: Variant,
  requestTopics: readonly string[],
): Promise<DeliveryCheck> {
  const subscriber = variant.subscriber;
  if (subscriber === undefined) {
    throw new Error(`${variant.name} has no subscriber to check`);
  }
  const { stats: server } = await snapshot(variant.server);
  const stats = await waitForEvents(
    subscriber,
    server.responses * EVENTS_PER_REQUEST,
  );
  const requestEvents = requestTopics.reduce(
    (sum, topic) => sum + receivedOn(stats, topic),
    0,
  );
  const numberEvents = receivedOn(
    stats,
    numberTopic(variant.server.topicPrefix),
  );
  const dropped =
    (server.publisher?.dropped ?? 0) + (server.publisher?.sendErrors ?? 0);

  return {
    responses: server.responses,
    requestEvents,
    numberEvents,
    missed: stats.missed,
    dropped,
    exact:
      requestEvents === server.responses &&
      numberEvents === server.responses &&
      stats.missed === 0 &&
      dropped === 0,
  };
}

export interface ThroughputResult {
  runs: RunRecord[];
  medians: Record<string, Medians>;
  /** Throughput with zpub over throughput without, median of rounds. */
  ratio: { withSubscriber: number; withoutSubscriber: number };
  /** Server CPU per request that zpub adds, median of rounds, in µs. */
  extraCpuUs: { withSubscriber: number; withoutSubscriber: number };
  delivery: DeliveryCheck;
}

/**
 * Saturates the app without zpub, with zpub and one live subscriber, and
 * with zpub and no subscriber, interleaved round by round.
 */
export async function throughputSuite(
  options: SuiteOptions,
): Promise<ThroughputResult> {
  const [none, live, alone] = await Promise.all([
    startServer('none'),
    startServer('zpub'),
    startServer('zpub'),
  ]);
  const variants: Variant[] = [
    { name: 'none', server: none },
    {
      name: 'zpub+subscriber',
      server: live,
      subscriber: await startSubscriber('zpub', live.endpoint),
    },
    { name: 'zpub', server: alone },
  ];
  try {
    const runs = await saturate(variants, options, '/print/7');
    const delivery = await checkDelivery(variants[1] as Variant, [PRINT_TOPIC]);

    return {
      runs,
      medians: Object.fromEntries(
        variants.map(({ name }) => [name, mediansOf(runs, name)]),
      ),
      ratio: {
        withSubscriber: pairedRatio(runs, 'zpub+subscriber', 'none'),
        withoutSubscriber: pairedRatio(runs, 'zpub', 'none'),
      },
      extraCpuUs: {
        withSubscriber: pairedExtraCpu(runs, 'zpub+subscriber', 'none'),
        withoutSubscriber: pairedExtraCpu(runs, 'zpub', 'none'),
      },
      delivery,
    };
  } finally {
    await stopAll(variants);
  }
}

/** One paced run of one variant. */
export interface SteadyRecord {
  variant: string;
  round: number;
  rate: number;
  cpuPerRequestUs: number;
  responses: number;
  errors: number;
  /** HTTP latency from the scheduled send time, in ms. */
  httpLatencyMs: LatencySummary;
  /** CPU time of the variant's proxy process per event, in µs. */
  proxyCpuPerEventUs?: number;
}

/** Sends the steady rate to every variant, in turn, for `rounds` rounds. */
export async function pace(
  variants: readonly Variant[],
  options: SuiteOptions,
): Promise<SteadyRecord[]> {
  const runs: SteadyRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const variant of variants) {
      const window = await measure(
        variant.server,
        () =>
          runPaced(
            variant.server.url,
            options.steadyRate,
            options.durationS * 1000,
          ),
        options.quietWaitMs,
        proxyPids(variant),
      );
      runs.push({
        variant: variant.name,
        round,
        rate: window.result.rate,
        cpuPerRequestUs: window.cpuPerRequestUs,
        ...proxyCpu(variant, window),
        responses: window.responses,
        errors: window.result.errors,
        httpLatencyMs: window.result.latencyMs,
      });
    }
  }

  return runs;
}

/** Publish to subscriber receipt of one zpub variant, in ms. */
function toMs(latencyUs: LatencySummary): LatencySummary {
  return {
    count: latencyUs.count,
    p50: latencyUs.p50 / 1000,
    p99: latencyUs.p99 / 1000,
    p999: latencyUs.p999 / 1000,
    max: latencyUs.max / 1000,
  };
}

/** The steady-rate figures of zpub with a flush delay. */
export interface DelayedFlushResult {
  flushDelayMs: number;
  cpuPerRequestUs: number;
  extraCpuUs: number;
  endToEndMs: LatencySummary;
  delivery: DeliveryCheck;
}

export interface SteadyResult {
  rate: number;
  runs: SteadyRecord[];
  cpuPerRequestUs: Record<string, number>;
  /** Median over rounds of the CPU per request zpub adds, in µs. */
  extraCpuUs: number;
  /** Publish to subscriber receipt, all zpub rounds together, in ms. */
  endToEndMs: LatencySummary;
  delivery: DeliveryCheck;
  /** The same with the publisher's flushDelayMs, when measured. */
  delayed?: DelayedFlushResult;
}

/** Name of the steady variant with a flush delay. */
const DELAYED = 'zpub+subscriber, flush delay';

/**
 * Sends `steadyRate` requests per second to the app without zpub, to the
 * app with zpub and a subscriber that records end-to-end latency, and,
 * when `flushDelayMs` is above 0, to the app with zpub whose publisher
 * waits that long before it sends a batch.
 */
export async function steadySuite(
  options: SuiteOptions,
  flushDelayMs = 0,
): Promise<SteadyResult> {
  const variants: Variant[] = [];
  try {
    const [none, zpubServer] = await Promise.all([
      startServer('none'),
      startServer('zpub'),
    ]);
    variants.push(
      { name: 'none', server: none },
      {
        name: 'zpub+subscriber',
        server: zpubServer,
        subscriber: await startSubscriber('zpub', zpubServer.endpoint),
      },
    );
    if (flushDelayMs > 0) {
      const delayed = await startServer('zpub', { flushDelayMs });
      variants.push({
        name: DELAYED,
        server: delayed,
        subscriber: await startSubscriber('zpub', delayed.endpoint),
      });
    }
    for (const variant of variants) {
      await runPaced(
        variant.server.url,
        options.steadyRate,
        options.warmupS * 1000,
      );
      await variant.subscriber?.call('reset-latency');
    }
    const runs = await pace(variants, options);
    const cpu = (name: string) =>
      median(
        runs
          .filter((run) => run.variant === name)
          .map((run) => run.cpuPerRequestUs),
      );
    const latencyOf = async (variant: Variant) =>
      toMs(
        (await (variant.subscriber as Worker).call<SubscriberStats>('stats'))
          .latencyUs,
      );
    const live = variants[1] as Variant;
    const delayedVariant = variants[2];

    return {
      rate: options.steadyRate,
      runs,
      cpuPerRequestUs: Object.fromEntries(
        variants.map(({ name }) => [name, cpu(name)]),
      ),
      extraCpuUs: pairedExtraCpu(runs, live.name, 'none'),
      endToEndMs: await latencyOf(live),
      delivery: await checkDelivery(live, [STAMP_TOPIC]),
      delayed:
        delayedVariant === undefined
          ? undefined
          : {
              flushDelayMs,
              cpuPerRequestUs: cpu(DELAYED),
              extraCpuUs: pairedExtraCpu(runs, DELAYED, 'none'),
              endToEndMs: await latencyOf(delayedVariant),
              delivery: await checkDelivery(delayedVariant, [STAMP_TOPIC]),
            },
    };
  } finally {
    await stopAll(variants);
  }
}

/** ZMQ_RCVHWM of the slow subscriber, in messages. */
const SLOW_RECEIVE_HWM = 100;

export interface SlowSubscriberResult {
  /** Busy wait per event in the subscriber, in µs. */
  slowUs: number;
  /** Events handed to ZeroMQ. */
  published: number;
  /**
   * Events the publisher dropped at its queue bound or failed to send; each
   * still took a sequence, so subscribers see them as gaps too.
   */
  dropped: number;
  received: number;
  missed: number;
  /** Events before the first one received (its sequence minus 1), summed over topics. */
  missedBeforeFirst: number;
  /** received + missed + missedBeforeFirst === published + dropped. */
  accounted: boolean;
  rssMiB: {
    before: number;
    firstHalfMax: number;
    secondHalfMax: number;
    after: number;
  };
  /** The second half of the run grew RSS by less than 10% over the first. */
  rssBounded: boolean;
}

/**
 * Saturates the app with zpub while its only subscriber spends `slowUs` on
 * every event, so that libzmq drops messages for it, and checks that the
 * gap notices account for every event it did not receive.
 */
export async function slowSubscriberSuite(
  options: SuiteOptions,
  slowUs: number,
): Promise<SlowSubscriberResult> {
  const server = await startServer('zpub');
  // A small receive queue leaves the backlog at the publisher, whose send
  // queue (ZMQ_SNDHWM, 10,000 messages) is the bound under test.
  const durationS = options.durationS * 2;
  const subscriber = await startSubscriber('zpub', server.endpoint, {
    slowUs,
    receiveHighWaterMark: SLOW_RECEIVE_HWM,
    slowForMs: durationS * 1000,
  });
  const variants: Variant[] = [{ name: 'zpub+slow', server, subscriber }];
  try {
    const pid = server.worker.pid;
    const rssBefore = processRssBytes(pid);
    const samples: { atMs: number; rss: number }[] = [];
    const start = performance.now();
    const sampler = setInterval(() => {
      samples.push({
        atMs: performance.now() - start,
        rss: processRssBytes(pid),
      });
    }, 100);
    try {
      await runWrk(`${server.url}/print/7`, durationS, options.connections);
    } finally {
      clearInterval(sampler);
    }
    // The subscriber is slow for as long as the load lasts, then drains its
    // backlog at full speed. Once it has caught up, one more request per
    // topic makes it report whatever was lost at the end of the run as a
    // gap.
    await waitForEvents(subscriber, Number.POSITIVE_INFINITY, 1000, 60_000);
    await fetch(`${server.url}/print/7`).then((response) => response.text());
    const stats = await waitForEvents(
      subscriber,
      Number.POSITIVE_INFINITY,
      500,
    );
    const { stats: serverStats } = await snapshot(server);
    const published = serverStats.publisher?.published ?? 0;
    const dropped =
      (serverStats.publisher?.dropped ?? 0) +
      (serverStats.publisher?.sendErrors ?? 0);
    const missedBeforeFirst = Object.values(stats.topics).reduce(
      (sum, topic) => sum + Math.max(0, topic.first - 1),
      0,
    );
    const half = (durationS * 1000) / 2;
    const maxRss = (from: number, to: number) =>
      Math.max(
        0,
        ...samples
          .filter((sample) => sample.atMs >= from && sample.atMs < to)
          .map((s) => s.rss),
      );
    const firstHalfMax = maxRss(0, half);
    const secondHalfMax = maxRss(half, Number.POSITIVE_INFINITY);
    const mib = (bytes: number) => bytes / 2 ** 20;

    return {
      slowUs,
      published,
      dropped,
      received: stats.received,
      missed: stats.missed,
      missedBeforeFirst,
      accounted:
        stats.received + stats.missed + missedBeforeFirst ===
        published + dropped,
      rssMiB: {
        before: mib(rssBefore),
        firstHalfMax: mib(firstHalfMax),
        secondHalfMax: mib(secondHalfMax),
        after: mib(processRssBytes(pid)),
      },
      rssBounded: secondHalfMax <= firstHalfMax * 1.1,
    };
  } finally {
    await stopAll(variants);
  }
}

export interface PeersResult {
  saturation: { runs: RunRecord[]; medians: Record<string, Medians> };
  steady: { runs: SteadyRecord[]; cpuPerRequestUs: Record<string, number> };
  /** Events each variant's subscriber received, against responses served. */
  delivery: Record<string, DeliveryCheck>;
  /** Peers that could not be measured, with the reason. */
  skipped: Record<string, string>;
}

/**
 * Measures the same app and events with zpub's publisher over Redis, NATS
 * and MQTT beside zpub over ZeroMQ, each with one live subscriber.
 */
export async function peersSuite(options: SuiteOptions): Promise<PeersResult> {
  const variants: Variant[] = [];
  const skipped: Record<string, string> = {};
  const kinds: ServerVariant[] = ['zpub', ...PEER_KINDS];
  try {
    for (const kind of kinds) {
      try {
        const server = await startServer(kind);
        const subscriber = await startSubscriber(
          kind as 'zpub' | PeerKind,
          kind === 'zpub' ? server.endpoint : undefined,
        );
        // A broker subscription is live once the client has subscribed; a
        // short wait lets the broker apply it before the first event.
        await sleep(200);
        variants.push({ name: kind, server, subscriber });
      } catch (error) {
        skipped[kind] = (error as Error).message.split('\n')[0] ?? '';
      }
    }
    const saturation = await saturate(variants, options, '/print/7');
    const steadyRuns = await pace(variants, options);
    const delivery: Record<string, DeliveryCheck> = {};
    for (const variant of variants) {
      delivery[variant.name] = await checkDelivery(variant, [
        PRINT_TOPIC,
        STAMP_TOPIC,
      ]);
    }

    return {
      saturation: {
        runs: saturation,
        medians: Object.fromEntries(
          variants.map(({ name }) => [name, mediansOf(saturation, name)]),
        ),
      },
      steady: {
        runs: steadyRuns,
        cpuPerRequestUs: Object.fromEntries(
          variants.map(({ name }) => [
            name,
            median(
              steadyRuns
                .filter((run) => run.variant === name)
                .map((run) => run.cpuPerRequestUs),
            ),
          ]),
        ),
      },
      delivery,
      skipped,
    };
  } finally {
    await stopAll(variants);
  }
}
