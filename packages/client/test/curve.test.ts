import { describe, expect, it } from 'vitest';
import {
  CurveConfigError,
  Publisher,
  generateKeyPair,
  subscribe,
  type Notice,
} from '../src/index.js';
import { collect, openPublisher } from './helpers.js';

describe('CURVE through Publisher and subscribe()', () => {
  it('delivers to an allowed key', async () => {
    const server = generateKeyPair();
    const client = generateKeyPair();
    const publisher = await openPublisher({
      curve: { secretKey: server.secretKey, allowedKeys: [client.publicKey] },
    });
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
      curve: { serverKey: server.publicKey, secretKey: client.secretKey },
    });

    publisher.publish('number', 7);
    const [event] = await collector.take(1);

    expect(event?.data).toBe(7);
  });

  it('reports a rejected key as a handshake warning', async () => {
    const server = generateKeyPair();
    const publisher = await openPublisher({
      curve: {
        secretKey: server.secretKey,
        allowedKeys: [generateKeyPair().publicKey],
      },
    });
    const notices: Notice[] = [];
    const warned = new Promise<void>((resolve) => {
      const subscription = subscribe({
        endpoint: publisher.endpoint,
        curve: { serverKey: server.publicKey },
        onNotice: (notice) => {
          notices.push(notice);
          if (notice.kind === 'warning') {
            void subscription.close().then(resolve);
          }
        },
      });
    });
    await warned;

    expect(notices).toEqual([
      {
        kind: 'warning',
        endpoint: publisher.endpoint,
        message: `handshake with ${publisher.endpoint} failed: the publisher rejected this subscriber's key (ZAP status 400)`,
        handshake: true,
      },
    ]);
  });

  it('rejects CURVE options for NATS', async () => {
    const keys = generateKeyPair();
    const message =
      "CURVE keys apply to ZeroMQ endpoints only; a nats:// endpoint uses the NATS server's TLS and credentials";

    const opened = Publisher.open({
      endpoint: 'nats://127.0.0.1:4222',
      curve: { secretKey: keys.secretKey },
    });

    await expect(opened).rejects.toThrow(CurveConfigError);
    await expect(opened).rejects.toThrow(message);
    expect(() =>
      subscribe({
        endpoint: 'nats://127.0.0.1:4222',
        curve: { serverKey: keys.publicKey },
      }),
    ).toThrow(message);
  });
});
