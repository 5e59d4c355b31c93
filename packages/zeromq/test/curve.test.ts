import type { SubscriberStatus } from '@zpub/protocol';
import { waitUntil } from 'test-helpers';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Context, XSubscriber, capability, curveKeyPair } from 'zeromq';
import {
  CurveConfigError,
  ZAP_DOMAIN,
  ZapHandler,
  ZmqPublisherTransport,
  ZmqSubscriberTransport,
  decodeZ85,
  encodeZ85,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type HandshakeFailure,
  type RejectedPeer,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '../src/index.js';
import { StatusLog, asText, errorOf, takeMessages } from './helpers.js';

/** The longest wait for a handshake or a subscription, in ms. */
const WAIT_MS = 5000;

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

/**
 * Binds an XSUB socket as a CURVE server, as a proxy frontend does, with a
 * ZAP handler that allows `allowedKeys`.
 */
async function openCurveFrontend(
  secretKey: string,
  allowedKeys: readonly string[],
): Promise<XSubscriber> {
  const context = new Context();
  const handler = await ZapHandler.open(
    context,
    allowedKeys,
    () => undefined,
    () => undefined,
  );
  const frontend = new XSubscriber({
    context,
    linger: 0,
    curveServer: true,
    curveSecretKey: secretKey,
    zapDomain: ZAP_DOMAIN,
  });
  await frontend.bind('tcp://127.0.0.1:0');
  onTestFinished(() => {
    frontend.close();
    handler.close();
  });

  return frontend;
}

describe('CURVE publisher in connect mode', () => {
  it('delivers as a client of an allowing frontend', async () => {
    const proxy = curveKeyPair();
    const own = curveKeyPair();
    const frontend = await openCurveFrontend(proxy.secretKey, [own.publicKey]);
    let handshakes = 0;
    frontend.events.on('handshake', () => handshakes++);
    const failures: HandshakeFailure[] = [];
    const publisher = await ZmqPublisherTransport.open(
      frontend.lastEndpoint as string,
      {
        mode: 'connect',
        curve: { serverKey: proxy.publicKey, secretKey: own.secretKey },
        onHandshakeFailed: (failure) => failures.push(failure),
      },
    );
    onTestFinished(() => publisher.close(0));
    await waitUntil('a handshake succeeded', () => handshakes > 0, WAIT_MS);
    await frontend.send(Buffer.from('\x01number', 'latin1'));
    await waitUntil(
      'the subscription arrived',
      () => publisher.hasSubscriber('number'),
      WAIT_MS,
    );
    await publisher.send({ topic: 'number', payload: encoder.encode('3') });
    const frames = await frontend.receive();

    expect(asText(frames)).toEqual(['number', '3']);
    expect(failures).toEqual([]);
  });

  it('reports a rejected key', async () => {
    const proxy = curveKeyPair();
    const frontend = await openCurveFrontend(proxy.secretKey, []);
    const failures: HandshakeFailure[] = [];
    const publisher = await ZmqPublisherTransport.open(
      frontend.lastEndpoint as string,
      {
        mode: 'connect',
        curve: {
          serverKey: proxy.publicKey,
          secretKey: curveKeyPair().secretKey,
        },
        onHandshakeFailed: (failure) => failures.push(failure),
      },
    );
    onTestFinished(() => publisher.close(0));
    await waitUntil('a handshake failed', () => failures.length > 0, WAIT_MS);

    expect(failures).toEqual([
      {
        endpoint: frontend.lastEndpoint,
        reason: "the endpoint rejected this publisher's key (ZAP status 400)",
      },
    ]);
    expect(publisher.hasSubscriber('')).toBe(false);
  });

  it('reports a wrong server key once while libzmq retries', async () => {
    const proxy = curveKeyPair();
    const own = curveKeyPair();
    const frontend = await openCurveFrontend(proxy.secretKey, [own.publicKey]);
    let serverFailures = 0;
    frontend.events.on('handshake:error:protocol', () => serverFailures++);
    frontend.events.on('handshake:error:other', () => serverFailures++);
    const failures: HandshakeFailure[] = [];
    const publisher = await ZmqPublisherTransport.open(
      frontend.lastEndpoint as string,
      {
        mode: 'connect',
        curve: {
          serverKey: curveKeyPair().publicKey,
          secretKey: own.secretKey,
        },
        onHandshakeFailed: (failure) => failures.push(failure),
      },
    );
    onTestFinished(() => publisher.close(0));
    await waitUntil(
      'three handshakes failed',
      () => serverFailures >= 3,
      WAIT_MS,
    );

    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toMatch(
      /^the connection closed during the handshake .*, as when the CURVE server key is wrong$/,
    );
  });

  it('reports a frontend without CURVE', async () => {
    const frontend = new XSubscriber({ linger: 0 });
    await frontend.bind('tcp://127.0.0.1:0');
    onTestFinished(() => frontend.close());
    const failures: HandshakeFailure[] = [];
    const publisher = await ZmqPublisherTransport.open(
      frontend.lastEndpoint as string,
      {
        mode: 'connect',
        curve: { serverKey: curveKeyPair().publicKey },
        onHandshakeFailed: (failure) => failures.push(failure),
      },
    );
    onTestFinished(() => publisher.close(0));
    await waitUntil('a handshake failed', () => failures.length > 0, WAIT_MS);

    expect(failures[0]?.reason).toBe(
      'one side uses CURVE and the other does not (ERR_ZMTP_MECHANISM_MISMATCH)',
    );
  });
});
