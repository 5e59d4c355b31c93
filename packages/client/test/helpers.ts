import { randomUUID } from 'node:crypto';
import {
  MESSAGE_EVENT_TYPE,
  createEvent,
  encodeEvent,
  type ZpubEvent,
} from '@zpub/protocol';
import { ZmqPublisherTransport } from '@zpub/zeromq';
import { onTestFinished } from 'vitest';
import {
  Publisher,
  subscribe,
  type Notice,
  type PublisherOptions,
  type SubscribeOptions,
  type Subscription,
} from '../src/index.js';

/** How long a helper waits for events or notices before it fails. */
export const WAIT_TIMEOUT_MS = 5000;

export interface Collector {
  subscription: Subscription;
  notices: Notice[];
  /** Resolves with the next `count` events, or rejects after `timeoutMs`. */
  take(count: number, timeoutMs?: number): Promise<ZpubEvent[]>;
  /**
   * Resolves with the next notice of `kind` after the one the previous call
   * returned, or rejects after `timeoutMs`.
   */
  nextNotice<Kind extends Notice['kind']>(
    kind: Kind,
    timeoutMs?: number,
  ): Promise<Extract<Notice, { kind: Kind }>>;
}

/**
 * Subscribes, waits until the subscription is live, and collects events and
 * notices. The subscription is closed when the test finishes.
 */
export async function collect(options: SubscribeOptions): Promise<Collector> {
  const notices: Notice[] = [];
  let noticeCursor = 0;
  let wakeNoticeWaiter: (() => void) | undefined;
  const subscription = subscribe({
    ...options,
    onNotice: (notice) => {
      notices.push(notice);
      wakeNoticeWaiter?.();
    },
  });
  onTestFinished(() => subscription.close());
  await withTimeout(subscription.ready, WAIT_TIMEOUT_MS, 'subscription.ready');
  const iterator = subscription[Symbol.asyncIterator]();

  return {
    subscription,
    notices,
    async take(count, timeoutMs = WAIT_TIMEOUT_MS) {
      const events: ZpubEvent[] = [];
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`received ${events.length} of ${count} events`));
        }, timeoutMs);
      });
      try {
        while (events.length < count) {
          const next = await Promise.race([iterator.next(), timeout]);
          if (next.done === true) {
            throw new Error('the subscription ended');
          }
          events.push(next.value);
        }
      } finally {
        clearTimeout(timer);
      }

      return events;
    },
    async nextNotice(kind, timeoutMs = WAIT_TIMEOUT_MS) {
      const deadline = performance.now() + timeoutMs;
      while (true) {
        const index = notices.findIndex(
          (notice, position) =>
            position >= noticeCursor && notice.kind === kind,
        );
        if (index !== -1) {
          noticeCursor = index + 1;
          return notices[index] as Extract<Notice, { kind: typeof kind }>;
        }

        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          const seen = notices.map((notice) => notice.kind).join(', ');
          throw new Error(
            `no "${kind}" notice within ${timeoutMs} ms; notices so far: ${seen || 'none'}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wakeNoticeWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

/**
 * Opens a publisher on an ephemeral 127.0.0.1 port, closed when the test
 * finishes unless the test closed it.
 */
export async function openPublisher(
  options: PublisherOptions = {},
): Promise<Publisher> {
  const publisher = await Publisher.open({
    endpoint: 'tcp://127.0.0.1:0',
    source: 'zpub://test/client',
    ...options,
  });
  onTestFinished(async () => {
    await publisher.close();
  });

  return publisher;
}

/**
 * Opens a bare transport on an ephemeral 127.0.0.1 port, for tests that send
 * frames the client publisher would never send.
 */
export async function openRawPublisher(): Promise<ZmqPublisherTransport> {
  const transport = await ZmqPublisherTransport.open('tcp://127.0.0.1:0');
  onTestFinished(() => transport.close(0));

  return transport;
}

/** Fields of a crafted event. */
export interface CraftedEvent {
  topic: string;
  sequence: number;
  instance: string;
  source?: string;
  data?: unknown;
}

/** Sends one event as the client publisher would encode it. */
export async function sendEvent(
  transport: ZmqPublisherTransport,
  fields: CraftedEvent,
): Promise<void> {
  const event = createEvent({
    id: randomUUID(),
    source: fields.source ?? 'zpub://test/crafted',
    type: MESSAGE_EVENT_TYPE,
    time: new Date().toISOString(),
    topic: fields.topic,
    sequence: fields.sequence,
    instance: fields.instance,
    data: fields.data ?? null,
  });
  const [, payload] = encodeEvent(fields.topic, event);
  await transport.send({ topic: fields.topic, payload });
}

/** Sends a payload as text, valid or not. */
export async function sendText(
  transport: ZmqPublisherTransport,
  topic: string,
  text: string,
): Promise<void> {
  await transport.send({ topic, payload: new TextEncoder().encode(text) });
}

/** Resolves at the next turn of the event loop, as setImmediate does. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves as `promise` does, or rejects after `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  description: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(`${description} did not resolve within ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
