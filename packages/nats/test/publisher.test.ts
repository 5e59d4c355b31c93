import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NatsPublisherTransport } from '../src/index.js';
import { NATS_ENDPOINT, testStream } from './nats-server.js';

/** Reads the payloads of a stream's first `count` messages, in order. */
async function storedPayloads(
  stream: string,
  count: number,
): Promise<string[]> {
  const connection = await connect({ servers: NATS_ENDPOINT.slice(7) });
  try {
    const manager = await jetstreamManager(connection);
    const payloads: string[] = [];
    for (let seq = 1; seq <= count; seq++) {
      const stored = await manager.streams.getMessage(stream, { seq });
      payloads.push(stored?.string() ?? 'missing');
    }

    return payloads;
  } finally {
    await connection.close();
  }
}

async function openWithStream(maxPendingAcks: number): Promise<{
  transport: NatsPublisherTransport;
  topic: string;
  stream: string;
}> {
  const stream = testStream();
  const transport = await NatsPublisherTransport.open(NATS_ENDPOINT, {
    stream: { name: stream.name, subjects: [`${stream.prefix}.>`] },
    maxPendingAcks,
  });
  onTestFinished(() => transport.close(1000));

  return { transport, topic: `${stream.prefix}.number`, stream: stream.name };
}

describe('JetStream acknowledgement limit', () => {
  it('holds a send until an ack frees a slot', async () => {
    const { transport, topic } = await openWithStream(2);
    const order: string[] = [];
    const sends = [1, 2, 3, 4, 5].map(async (number) => {
      const pending = await transport.send({ topic, payload: `${number}` });
      order.push(`sent ${number}`);
      await pending?.acknowledged;
      order.push(`acked ${number}`);
    });
    await Promise.all(sends);

    // With two slots, the third send waits for the first acknowledgement,
    // the fourth for the second and the fifth for the third.
    expect(order.indexOf('sent 3')).toBeGreaterThan(order.indexOf('acked 1'));
    expect(order.indexOf('sent 4')).toBeGreaterThan(order.indexOf('acked 2'));
    expect(order.indexOf('sent 5')).toBeGreaterThan(order.indexOf('acked 3'));
    expect(order.filter((step) => step.startsWith('acked'))).toHaveLength(5);
  });

  it('acknowledges 5,000 sends through one slot', async () => {
    const { transport, topic } = await openWithStream(1);
    const acknowledgements: Promise<void>[] = [];
    for (let number = 1; number <= 5000; number++) {
      const pending = await transport.send({ topic, payload: `${number}` });
      if (pending !== undefined) {
        acknowledgements.push(pending.acknowledged);
      }
    }
    const results = await Promise.allSettled(acknowledgements);

    expect(
      results.filter((result) => result.status === 'fulfilled'),
    ).toHaveLength(5000);
  });

  it('stores concurrent sends in send order', async () => {
    const { transport, topic, stream } = await openWithStream(4);
    const numbers = Array.from({ length: 500 }, (_, index) => `${index + 1}`);
    const sends = numbers.map((number) =>
      transport.send({ topic, payload: number }),
    );
    const pending = await Promise.all(sends);
    await Promise.all(
      pending.map((ack) => ack?.acknowledged ?? Promise.resolve()),
    );

    expect(await storedPayloads(stream, numbers.length)).toEqual(numbers);
  });
});
