import type { SubscriberStatus } from '@zpub/protocol';
import { describe, expect, it, onTestFinished } from 'vitest';
import { capability, curveKeyPair } from 'zeromq';
import {
  CurveConfigError,
  ZmqPublisherTransport,
  ZmqSubscriberTransport,
  decodeZ85,
  encodeZ85,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type RejectedPeer,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '../src/index.js';
import { StatusLog, asText, errorOf, takeMessages } from './helpers.js';

const encoder = new TextEncoder();

async function openCurvePublisher(
  curve: ZmqCurveServerOptions,
): Promise<ZmqPublisherTransport> {
  const publisher = await ZmqPublisherTransport.open('tcp://127.0.0.1:0', {
    curve,
  });
  onTestFinished(() => publisher.close(0));

  return publisher;
}

function openSubscriber(
  endpoint: string,
  curve: ZmqCurveClientOptions | undefined,
): { subscriber: ZmqSubscriberTransport; log: StatusLog } {
  const log = new StatusLog();
  const subscriber = ZmqSubscriberTransport.open({
    endpoints: [endpoint],
    filters: ['number'],
    onStatus: log.listener,
    curve,
  });
  onTestFinished(() => subscriber.close());

  return { subscriber, log };
}

function warningsOf(log: StatusLog): SubscriberStatus[] {
  return log.entries
    .map((entry) => entry.status)
    .filter((status) => status.kind === 'warning');
}

describe('Z85 keys', () => {
  it('round-trip through encode and decode', () => {
    const { secretKey } = curveKeyPair();
    const bytes = decodeZ85(secretKey);

    expect(bytes).toHaveLength(32);
    expect(encodeZ85(bytes)).toBe(secretKey);
  });

  it('derive the public key of libzmq', () => {
    const pair = curveKeyPair();

    expect(publicKeyOf(pair.secretKey)).toBe(pair.publicKey);
  });

  it('are read from a key file and an allowlist', () => {
    const first = curveKeyPair();
    const second = curveKeyPair();
    const keyFile = `# comment\n\n${first.secretKey}\n`;
    const allowlist = `# subscribers\n${first.publicKey}\r\n\n  ${second.publicKey}  \n`;

    expect(parseSecretKeyFile(keyFile, 'key.txt')).toBe(first.secretKey);
    expect(parseKeyList(allowlist, 'allow.txt')).toEqual([
      first.publicKey,
      second.publicKey,
    ]);
  });

  it('reject a bad line naming the file and line', () => {
    const error = errorOf(() =>
      parseKeyList(`${curveKeyPair().publicKey}\nnot-a-key\n`, 'allow.txt'),
    );

    expect(error).toBeInstanceOf(CurveConfigError);
    expect((error as Error).message).toBe(
      'line 2 of allow.txt is not a CURVE key: expected 40 characters of Z85 text, as `zsub keygen` prints, got 9 characters',
    );
  });
});

describe('CURVE publisher', () => {
  it('delivers to an allowed subscriber', async () => {
    const server = curveKeyPair();
    const client = curveKeyPair();
    const publisher = await openCurvePublisher({
      secretKey: server.secretKey,
      allowedKeys: [client.publicKey],
    });
    const { subscriber, log } = openSubscriber(publisher.endpoint, {
      serverKey: server.publicKey,
      secretKey: client.secretKey,
    });
    const live = await log.next('live');
    await publisher.send({ topic: 'number', payload: encoder.encode('1') });
    const [frames] = await takeMessages(subscriber[Symbol.asyncIterator](), 1);

    expect(live.status).toMatchObject({ confirmed: true });
    expect(asText(frames ?? [])).toEqual(['number', '1']);
    expect(warningsOf(log)).toEqual([]);
  });

  it('rejects a key off the allowlist once per peer', async () => {
    const server = curveKeyPair();
    const rejected: RejectedPeer[] = [];
    const publisher = await openCurvePublisher({
      secretKey: server.secretKey,
      allowedKeys: [curveKeyPair().publicKey],
      onRejected: (peer) => rejected.push(peer),
    });
    const stranger = curveKeyPair();
    const first = openSubscriber(publisher.endpoint, {
      serverKey: server.publicKey,
      secretKey: stranger.secretKey,
    });
    const warning = await first.log.next('warning');
    const second = openSubscriber(publisher.endpoint, {
      serverKey: server.publicKey,
      secretKey: stranger.secretKey,
    });
    await second.log.next('warning');

    expect(warning.status).toEqual({
      kind: 'warning',
      endpoint: publisher.endpoint,
      message: `handshake with ${publisher.endpoint} failed: the publisher rejected this subscriber's key (ZAP status 400)`,
      handshake: true,
    });
    expect(rejected).toEqual([
      {
        publicKey: stranger.publicKey,
        address: '127.0.0.1',
        mechanism: 'CURVE',
      },
    ]);
    expect(first.log.entries.map((entry) => entry.status.kind)).not.toContain(
      'live',
    );
  });

  it('gives nothing to a subscriber with the wrong server key', async () => {
    const server = curveKeyPair();
    const client = curveKeyPair();
    const publisher = await openCurvePublisher({
      secretKey: server.secretKey,
      allowedKeys: [client.publicKey],
    });
    const { log } = openSubscriber(publisher.endpoint, {
      serverKey: curveKeyPair().publicKey,
      secretKey: client.secretKey,
    });
    const warning = await log.next('warning');

    expect(warning.status).toMatchObject({
      kind: 'warning',
      handshake: true,
    });
    expect((warning.status as { message: string }).message).toMatch(
      /^handshake with tcp:\/\/127\.0\.0\.1:\d+ failed: the connection closed during the handshake/,
    );
    expect(log.entries.map((entry) => entry.status.kind)).not.toContain(
      'connected',
    );
  });

  it('gives nothing to a subscriber without keys', async () => {
    const server = curveKeyPair();
    const publisher = await openCurvePublisher({
      secretKey: server.secretKey,
      allowedKeys: [],
    });
    const { log } = openSubscriber(publisher.endpoint, undefined);
    const warning = await log.next('warning');

    expect(warning.status).toMatchObject({ kind: 'warning', handshake: true });
    expect(log.entries.map((entry) => entry.status.kind)).not.toContain(
      'connected',
    );
  });

  it('encrypts for any subscriber without an allowlist', async () => {
    const server = curveKeyPair();
    const publisher = await openCurvePublisher({ secretKey: server.secretKey });
    // No secret key: the subscriber makes a key pair of its own.
    const { subscriber, log } = openSubscriber(publisher.endpoint, {
      serverKey: server.publicKey,
    });
    await log.next('live');
    await publisher.send({ topic: 'number', payload: encoder.encode('2') });
    const [frames] = await takeMessages(subscriber[Symbol.asyncIterator](), 1);

    expect(asText(frames ?? [])).toEqual(['number', '2']);
  });

  it('rejects an invalid secret key before binding', async () => {
    const error = await ZmqPublisherTransport.open('tcp://127.0.0.1:0', {
      curve: { secretKey: 'short' },
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CurveConfigError);
    expect((error as Error).message).toMatch(
      /^the CURVE secret key is not a CURVE key: expected 40 characters/,
    );
    expect((error as Error).message).not.toContain('short');
  });

  it('names the missing capability of the zeromq build', async () => {
    const flags = capability as { curve?: boolean };
    const original = flags.curve;
    flags.curve = false;
    onTestFinished(() => {
      flags.curve = original;
    });
    const error = await ZmqPublisherTransport.open('tcp://127.0.0.1:0', {
      curve: { secretKey: curveKeyPair().secretKey },
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CurveConfigError);
    expect((error as Error).message).toMatch(
      /^this build of zeromq \(libzmq [0-9.]+\) has no CURVE support \(capability\.curve is false\)/,
    );
  });
});
