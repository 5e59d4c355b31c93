import { parseArgs } from 'node:util';
import { subscribe } from '@zpub/client';
import {
  SequenceTracker,
  decodeMessage,
  sequenceOf,
  type ZpubEvent,
} from '@zpub/protocol';
import { requireHarness, serveCommands } from './ipc.js';
import { PEER_KINDS, subscribePeer, type PeerKind } from './peers.js';
import {
  SampleBuffer,
  summarizeLatency,
  type LatencySummary,
} from './stats.js';

/** Counts of one topic's events at one subscriber. */
export interface TopicCount {
  received: number;
  /** The first and the last `sequence` received. */
  first: number;
  last: number;
  /** Events that gap notices (or, for brokers, the sequence) report missing. */
  missed: number;
}

export interface SubscriberStats {
  received: number;
  /**
   * Events of other publisher instances, left out of every other count;
   * stays 0 without --instance.
   */
  foreign: number;
  missed: number;
  invalid: number;
  topics: Record<string, TopicCount>;
  /** From publish to receipt, in microseconds, of events with `publishedAt`. */
  latencyUs: LatencySummary;
  /** This process's CPU time since it started, in microseconds. */
  cpuUs: number;
  /** When the first and the last event arrived, in ms of performance.now(). */
  firstAtMs: number;
  lastAtMs: number;
}

requireHarness();

const { values } = parseArgs({
  options: {
    kind: { type: 'string', default: 'zpub' },
    endpoint: { type: 'string', default: 'tcp://127.0.0.1:5555' },
    'slow-us': { type: 'string', default: '0' },
    // How long the busy wait lasts from the first event on, in ms. The
    // subscriber cannot be told to stop over IPC, because the busy wait
    // keeps its event loop from reading the channel.
    'slow-for-ms': { type: 'string', default: '0' },
    // ZMQ_RCVHWM, in messages; 0 keeps subscribe()'s default.
    'receive-hwm': { type: 'string', default: '0' },
    // Topic filters of the zpub kind, separated by commas; none receives
    // every topic.
    topics: { type: 'string', default: '' },
    // Count only the events of this zpubinstance, so that other publishers
    // on a shared broker do not change the counts.
    instance: { type: 'string' },
  },
});
const kind = values.kind as 'zpub' | PeerKind;
const slowMs = Number(values['slow-us']) / 1000;
const slowForMs = Number(values['slow-for-ms']);
let slowUntil = Number.NaN;
const topics = new Map<string, TopicCount>();
const latencies = new SampleBuffer(2_000_000);
const instance = values.instance;
let received = 0;
let foreign = 0;
let missed = 0;
let invalid = 0;
let firstAtMs = Number.NaN;
let lastAtMs = Number.NaN;

function count(topic: string, event: ZpubEvent): void {
  const nowNs = Number(process.hrtime.bigint());
  received++;
  lastAtMs = performance.now();
  if (received === 1) {
    firstAtMs = lastAtMs;
    slowUntil = firstAtMs + slowForMs;
  }
  const sequence = sequenceOf(event) ?? 0;
  const counted = topics.get(topic);
  if (counted === undefined) {
    topics.set(topic, {
      received: 1,
      first: sequence,
      last: sequence,
      missed: 0,
    });
  } else {
    counted.received++;
    counted.last = sequence;
  }
  const publishedAt = (event.data as { publishedAt?: unknown } | undefined)
    ?.publishedAt;
  if (typeof publishedAt === 'number') {
    latencies.push((nowNs - publishedAt) / 1000);
  }
  if (slowMs > 0 && lastAtMs < slowUntil) {
    // A busy wait stands for work per event and blocks the event loop, as
    // slow synchronous processing would.
    const until = performance.now() + slowMs;
    while (performance.now() < until) {
      // spin
    }
  }
}

function addMissed(topic: string, count: number): void {
  missed += count;
  const counted = topics.get(topic);
  if (counted !== undefined) {
    counted.missed += count;
  }
}

let close: () => Promise<void>;
if (kind === 'zpub') {
  const receiveHighWaterMark = Number(values['receive-hwm']);
  const subscription = subscribe({
    endpoint: values.endpoint,
    receiveHighWaterMark:
      receiveHighWaterMark > 0 ? receiveHighWaterMark : undefined,
    topics: values.topics.split(',').filter(Boolean),
    onNotice: (notice) => {
      if (
        notice.kind === 'gap' &&
        (instance === undefined || notice.instance === instance)
      ) {
        addMissed(notice.topic, notice.missed);
      } else if (notice.kind === 'invalid') {
        invalid++;
      }
    },
  });
  await subscription.ready;
  void (async () => {
    for await (const event of subscription) {
      if (instance !== undefined && event.zpubinstance !== instance) {
        foreign++;
      } else {
        count(event.topic ?? '', event);
      }
    }
  })();
  close = () => subscription.close();
} else if (PEER_KINDS.includes(kind)) {
  const tracker = new SequenceTracker();
  const subscription = await subscribePeer(kind, (topic, payload) => {
    let message;
    try {
      message = decodeMessage([Buffer.from(topic), payload]);
    } catch {
      invalid++;
      return;
    }
    for (const event of message.events) {
      const observation = tracker.observe(topic, event);
      if (observation.kind === 'gap') {
        addMissed(topic, observation.missed);
      }
      count(topic, event);
    }
  });
  close = () => subscription.close();
} else {
  throw new Error(
    `invalid --kind ${kind}; expected zpub, ${PEER_KINDS.join(', ')}`,
  );
}

serveCommands(
  { kind },
  {
    stats: (): SubscriberStats => {
      const usage = process.cpuUsage();
      return {
        received,
        foreign,
        missed,
        invalid,
        topics: Object.fromEntries(topics),
        latencyUs: summarizeLatency(latencies.values),
        cpuUs: usage.user + usage.system,
        firstAtMs,
        lastAtMs,
      };
    },
    'reset-latency': () => {
      latencies.clear();
      return true;
    },
  },
);

process.on('SIGTERM', () => {
  void close().finally(() => process.exit(0));
});
