import { randomUUID } from 'node:crypto';
import { MESSAGE_EVENT_TYPE, createEvent, encodeEvent } from '@zpub/protocol';
import { ZmqPublisherTransport } from '@zpub/zeromq';
import { collect as collectWith, type CollectorOf } from 'test-helpers';
import { onTestFinished } from 'vitest';
import {
  Publisher,
  subscribe,
  type PublisherOptions,
  type SubscribeOptions,
} from '../src/index.js';

export { WAIT_TIMEOUT_MS, withTimeout } from 'test-helpers';

export type Collector = CollectorOf<typeof subscribe>;

/**
 * Collects events and notices with `subscribe` from the client's source,
 * which these tests check, rather than from its build.
 */
export function collect(options: SubscribeOptions): Promise<Collector> {
  return collectWith(subscribe, options);
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
