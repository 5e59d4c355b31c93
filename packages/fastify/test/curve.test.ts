import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateKeyPair, subscribe } from '@zpub/client';
import { afterEach, describe, expect, it } from 'vitest';
import { zpub, type ZpubPluginOptions } from '../src/index.js';

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

interface LogLine {
  level: number;
  msg: string;
  publicKey?: string;
  [field: string]: unknown;
}

/** Starts an app whose log lines are collected, parsed, in `lines`. */
async function start(
  options: ZpubPluginOptions,
): Promise<{ app: FastifyInstance; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          lines.push(JSON.parse(line) as LogLine);
        }
      }
      callback();
    },
  });
  app = Fastify({ logger: { level: 'info', stream } });
  await app.register(zpub, options);
  await app.ready();

  return { app, lines };
}

function warnings(lines: readonly LogLine[]): string[] {
  return lines.filter((line) => line.level === 40).map((line) => line.msg);
}

describe('exposure warning', () => {
  it('is logged once for tcp://* without CURVE', async () => {
    const { app: server, lines } = await start({ endpoint: 'tcp://*:0' });

    expect(warnings(lines)).toEqual([
      `zpub publishes on ${server.zpub.endpoint} without CURVE: anyone who can reach it can read every event, unencrypted. Set a CURVE secret key and an allowlist, or bind to 127.0.0.1`,
    ]);
  });

  it('is not logged for loopback', async () => {
    const { lines } = await start({ endpoint: 'tcp://127.0.0.1:0' });

    expect(warnings(lines)).toEqual([]);
  });

  it('is not logged for tcp://* with an allowlist', async () => {
    const { lines } = await start({
      endpoint: 'tcp://*:0',
      curve: { secretKey: generateKeyPair().secretKey, allowedKeys: [] },
    });

    expect(warnings(lines)).toEqual([]);
  });

  it('names a missing allowlist', async () => {
    const { lines } = await start({
      endpoint: 'tcp://127.0.0.1:0',
      curve: { secretKey: generateKeyPair().secretKey },
    });

    expect(warnings(lines)).toEqual([
      'zpub uses CURVE without an allowlist: any subscriber that has the public key of the publisher can read events. Set an allowlist of subscriber keys',
    ]);
  });
});

/** Connects with a key the publisher rejects and waits for the warning. */
function connectRejected(
  endpoint: string,
  serverKey: string,
  secretKey: string,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const subscription = subscribe({
      endpoint,
      curve: { serverKey, secretKey },
      onNotice: (notice) => {
        if (notice.kind === 'warning') {
          void subscription.close().then(resolve);
        }
      },
    });
  });
}

describe('rejected subscribers', () => {
  it('are rate-limited across peers', async () => {
    const server = generateKeyPair();
    const { app: started, lines } = await start({
      endpoint: 'tcp://127.0.0.1:0',
      curve: { secretKey: server.secretKey, allowedKeys: [] },
    });

    for (let attempt = 0; attempt < 3; attempt++) {
      await connectRejected(
        started.zpub.endpoint,
        server.publicKey,
        generateKeyPair().secretKey,
      );
    }
    const rejections = lines.filter((line) =>
      line.msg.startsWith('zpub rejected'),
    );

    // The first is logged; the next two fall within the 10 s interval and
    // are counted in the next line logged.
    expect(rejections).toHaveLength(1);
  });

  it('are logged once per peer, without secrets', async () => {
    const server = generateKeyPair();
    const allowed = generateKeyPair();
    const stranger = generateKeyPair();
    const { app: started, lines } = await start({
      endpoint: 'tcp://127.0.0.1:0',
      curve: { secretKey: server.secretKey, allowedKeys: [allowed.publicKey] },
    });

    for (let attempt = 0; attempt < 3; attempt++) {
      await connectRejected(
        started.zpub.endpoint,
        server.publicKey,
        stranger.secretKey,
      );
    }
    // An allowed subscriber still gets in.
    const subscription = subscribe({
      endpoint: started.zpub.endpoint,
      topics: ['number'],
      curve: { serverKey: server.publicKey, secretKey: allowed.secretKey },
    });
    await subscription.ready;
    started.zpub.publish('number', 1);
    for await (const event of subscription) {
      expect(event.data).toBe(1);
      break;
    }
    await subscription.close();
    const rejections = lines.filter((line) =>
      line.msg.startsWith('zpub rejected'),
    );
    const text = lines.map((line) => JSON.stringify(line)).join('\n');

    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.publicKey).toBe(stranger.publicKey);
    expect(rejections[0]?.msg).toBe(
      `zpub rejected a subscriber from 127.0.0.1: its CURVE key ${stranger.publicKey} is not on the allowlist`,
    );
    expect(text).not.toContain(server.secretKey);
    expect(text).not.toContain(stranger.secretKey);
  });
});
