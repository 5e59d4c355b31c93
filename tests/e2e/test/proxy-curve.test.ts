import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Child,
  SERVER_BIN,
  ZSUB_BIN,
  fatalMessages,
  keygen,
  parseLog,
  spawnProxy,
  startProxy,
  startServer,
  startZsub,
  type KeyPair,
  type RunningProxy,
  type RunningServer,
  killedAfterEach,
} from './processes.js';

const children = killedAfterEach();

/**
 * How long zsub may take to give up on a handshake that keeps failing, in
 * milliseconds: the README promises 5 s from connecting, and the rest is
 * room for a loaded machine. Only a failure waits this long.
 */
const HANDSHAKE_EXIT_LIMIT_MS = 10_000;

interface Party {
  keys: KeyPair;
  keyFile: string;
}

interface Keys {
  directory: string;
  proxy: Party;
  server: Party;
  subscriber: Party;
  /** A key pair that no allowlist contains. */
  stranger: Party;
  /** Allowlist of the frontend: the server's public key. */
  frontendAllowFile: string;
  /** Allowlist of the backend: the subscriber's public key. */
  backendAllowFile: string;
}

async function writeKeys(): Promise<Keys> {
  const directory = await mkdtemp(join(tmpdir(), 'zpub-e2e-proxy-curve-'));
  const party = async (name: string): Promise<Party> => {
    const keyFile = join(directory, `${name}.key`);
    return { keys: await keygen(keyFile), keyFile };
  };
  const proxy = await party('proxy');
  const server = await party('server');
  const subscriber = await party('subscriber');
  const stranger = await party('stranger');
  const frontendAllowFile = join(directory, 'publishers.txt');
  const backendAllowFile = join(directory, 'subscribers.txt');
  await writeFile(
    frontendAllowFile,
    `# publishers\n${server.keys.publicKey}\n`,
  );
  await writeFile(
    backendAllowFile,
    `# subscribers\n${subscriber.keys.publicKey}\n`,
  );

  return {
    directory,
    proxy,
    server,
    subscriber,
    stranger,
    frontendAllowFile,
    backendAllowFile,
  };
}

/** Starts a CURVE proxy with an allowlist on both sides. */
async function startCurveProxy(keys: Keys): Promise<RunningProxy> {
  const proxy = await startProxy([
    '--curve-secret-key-file',
    keys.proxy.keyFile,
    '--frontend-allow-file',
    keys.frontendAllowFile,
    '--backend-allow-file',
    keys.backendAllowFile,
  ]);
  children.push(proxy.child);

  return proxy;
}

/** Starts the server connected to the proxy frontend as a CURVE client. */
async function startServerBehind(
  proxy: RunningProxy,
  keys: Keys,
  own: Party,
): Promise<RunningServer> {
  const server = await startServer([
    '--publish',
    proxy.frontend,
    '--publish-mode',
    'connect',
    '--curve-server-key',
    keys.proxy.keys.publicKey,
    '--curve-secret-key-file',
    own.keyFile,
  ]);
  children.push(server.child);

  return server;
}

function subscriberArgs(proxy: RunningProxy, keys: Keys, own: Party): string[] {
  return [
    '--endpoint',
    proxy.backend,
    '--server-key',
    keys.proxy.keys.publicKey,
    '--curve-key-file',
    own.keyFile,
    '--topic',
    'number',
    '--raw',
  ];
}

/**
 * Sends requests until an allowed zsub prints one event, which shows that
 * the server has finished its handshake with the proxy. A later zsub's
 * hello then reaches the server and is confirmed.
 */
async function waitForPath(
  server: RunningServer,
  proxy: RunningProxy,
  keys: Keys,
): Promise<void> {
  const probe = await startZsub([
    ...subscriberArgs(proxy, keys, keys.subscriber),
    '--count',
    '1',
  ]);
  children.push(probe);
  let exited = false;
  void probe.exited.then(() => (exited = true));
  while (!exited) {
    await fetch(`${server.url}/print/0`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves with the exit status, or rejects after `limitMs`. */
async function exitWithin(
  child: Child,
  limitMs: number,
): Promise<{ code: number | null; signal: string | null }> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `no exit within ${limitMs} ms; stderr:\n${child.stderr.join('\n')}`,
        ),
      );
    }, limitMs);
  });
  try {
    return await Promise.race([child.exited, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function rejectionLines(proxy: RunningProxy, client: string): string[] {
  return proxy.child.stderr.filter((line) =>
    line.startsWith(`zsub: proxy rejected a ${client}`),
  );
}

describe('CURVE through the proxy', () => {
  it('delivers on both encrypted hops', async () => {
    const keys = await writeKeys();
    const proxy = await startCurveProxy(keys);
    const server = await startServerBehind(proxy, keys, keys.server);
    await waitForPath(server, proxy, keys);

    const zsub = await startZsub([
      ...subscriberArgs(proxy, keys, keys.subscriber),
      '--count',
      '3',
    ]);
    children.push(zsub);
    for (const number of [1, 2, 3]) {
      await fetch(`${server.url}/print/${number}`);
    }
    const { code } = await zsub.exited;
    const proxyOutput = proxy.child.stderr.join('\n');
    const serverOutput = server.child.stdout.join('\n');

    expect(code).toBe(0);
    expect(zsub.stdout).toEqual([
      '{"number":1}',
      '{"number":2}',
      '{"number":3}',
    ]);
    // No "did not confirm" suffix: the server replied to the hello through
    // the encrypted proxy.
    expect(zsub.stderr[0]).toBe(
      `zsub: ready, subscribed to ${proxy.backend} (topics: number)`,
    );
    expect(proxy.child.stderr).toContain(
      `zsub: proxy uses CURVE with public key ${keys.proxy.keys.publicKey} (frontend: allowlist of 1 publisher key; backend: allowlist of 1 subscriber key)`,
    );
    expect(proxy.child.stderr.at(-1)).toMatch(
      /^zsub: proxy ready, frontend \S+, backend \S+, CURVE on$/,
    );
    expect(rejectionLines(proxy, 'publisher')).toEqual([]);
    expect(rejectionLines(proxy, 'subscriber')).toEqual([]);
    expect(serverOutput).toContain(keys.server.keys.publicKey);
    for (const { keys: pair } of [keys.proxy, keys.server, keys.subscriber]) {
      expect(proxyOutput).not.toContain(pair.secretKey);
      expect(serverOutput).not.toContain(pair.secretKey);
    }
  });

  it('turns away a zsub off the backend allowlist', async () => {
    const keys = await writeKeys();
    const proxy = await startCurveProxy(keys);
    const server = await startServerBehind(proxy, keys, keys.server);
    await waitForPath(server, proxy, keys);

    const stranger = new Child(process.execPath, [
      ZSUB_BIN,
      ...subscriberArgs(proxy, keys, keys.stranger),
    ]);
    children.push(stranger);
    await fetch(`${server.url}/print/9`);
    const { code } = await exitWithin(stranger, HANDSHAKE_EXIT_LIMIT_MS);
    await proxy.child.waitForLine('stderr', (line) =>
      line.startsWith('zsub: proxy rejected a subscriber'),
    );

    expect(code).toBe(1);
    expect(stranger.stdout).toEqual([]);
    expect(stranger.stderr).toContain(
      `zsub: warning: handshake with ${proxy.backend} failed: the publisher rejected this subscriber's key (ZAP status 400)`,
    );
    expect(stranger.stderr.at(-1)).toMatch(
      /^zsub: cannot subscribe: the handshake with \S+ keeps failing/,
    );
    expect(rejectionLines(proxy, 'subscriber')).toEqual([
      `zsub: proxy rejected a subscriber from 127.0.0.1 on the backend: its CURVE key ${keys.stranger.keys.publicKey} is not in --backend-allow-file`,
    ]);
  });

  it('passes nothing from a publisher off the frontend allowlist', async () => {
    const keys = await writeKeys();
    const proxy = await startCurveProxy(keys);
    const allowed = await startServerBehind(proxy, keys, keys.server);
    const rejected = await startServerBehind(proxy, keys, keys.stranger);
    await proxy.child.waitForLine('stderr', (line) =>
      line.startsWith('zsub: proxy rejected a publisher'),
    );
    const warning = await rejected.child.waitForLine('stdout', (line) =>
      (parseLog(line)?.msg ?? '').startsWith("zpub's handshake with"),
    );
    await waitForPath(allowed, proxy, keys);

    const zsub = await startZsub([
      ...subscriberArgs(proxy, keys, keys.subscriber),
      '--count',
      '1',
    ]);
    children.push(zsub);
    for (let attempt = 0; attempt < 3; attempt++) {
      await fetch(`${rejected.url}/print/7`);
    }
    await fetch(`${allowed.url}/print/8`);
    const { code } = await zsub.exited;
    rejected.child.kill('SIGTERM');
    await rejected.child.exited;
    const closed = rejected.child.stdout
      .map(parseLog)
      .find((log) => log?.msg === 'zpub publisher closed');
    const stats = closed?.zpub as { published: number; unrouted: number };

    expect(code).toBe(0);
    expect(zsub.stdout).toEqual(['{"number":8}']);
    expect(parseLog(warning)?.msg).toBe(
      `zpub's handshake with ${proxy.frontend} failed: the endpoint rejected this publisher's key (ZAP status 400); this publisher's CURVE public key is ${keys.stranger.keys.publicKey}. Events go nowhere until a handshake succeeds`,
    );
    // Every event of the rejected server went nowhere: no subscription
    // reached it through the proxy.
    expect(stats.published).toBeGreaterThanOrEqual(3);
    expect(stats.unrouted).toBe(stats.published);
    expect(rejectionLines(proxy, 'publisher')).toEqual([
      `zsub: proxy rejected a publisher from 127.0.0.1 on the frontend: its CURVE key ${keys.stranger.keys.publicKey} is not in --frontend-allow-file`,
    ]);
  });

  it('accepts any key without allowlists', async () => {
    const keys = await writeKeys();
    const proxy = await startProxy([], {
      ZSUB_PROXY_CURVE_SECRET_KEY: keys.proxy.keys.secretKey,
    });
    children.push(proxy.child);
    const server = await startServerBehind(proxy, keys, keys.stranger);
    await fetch(`${server.url}/print/0`);
    const zsub = await startZsub([
      '--endpoint',
      proxy.backend,
      '--server-key',
      keys.proxy.keys.publicKey,
      '--topic',
      'number',
      '--raw',
      '--count',
      '1',
    ]);
    children.push(zsub);
    let exited = false;
    void zsub.exited.then(() => (exited = true));
    while (!exited) {
      await fetch(`${server.url}/print/4`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    expect((await zsub.exited).code).toBe(0);
    expect(zsub.stdout).toEqual(['{"number":4}']);
    expect(proxy.child.stderr).toContain(
      `zsub: proxy uses CURVE with public key ${keys.proxy.keys.publicKey} (frontend: no allowlist, any publisher that has the public key; backend: no allowlist, any subscriber that has the public key)`,
    );
  });
});

describe('server CURVE settings in connect mode', () => {
  const connect = ['--publish-connect', 'tcp://127.0.0.1:1'];
  const cases: {
    name: string;
    args: (keys: Keys) => string[];
    env?: (keys: Keys) => NodeJS.ProcessEnv;
    message: string;
  }[] = [
    {
      name: 'a server key without an own key',
      args: (keys) => [
        ...connect,
        '--curve-server-key',
        keys.proxy.keys.publicKey,
      ],
      message:
        'cannot start: --curve-server-key is set but the CURVE secret key is missing; set --curve-secret-key-file or ZPUB_CURVE_SECRET_KEY',
    },
    {
      name: 'an own key without a server key',
      args: (keys) => [
        ...connect,
        '--curve-secret-key-file',
        keys.server.keyFile,
      ],
      message:
        "cannot start: --curve-secret-key-file is set in connect mode but --curve-server-key is missing; a server that connects to a proxy is its CURVE client and needs the proxy's public key, which zsub proxy logs at startup. Set --curve-server-key or ZPUB_CURVE_SERVER_KEY",
    },
    {
      name: 'an own key from the environment without a server key',
      args: () => connect,
      env: (keys) => ({ ZPUB_CURVE_SECRET_KEY: keys.server.keys.secretKey }),
      message:
        "cannot start: ZPUB_CURVE_SECRET_KEY is set in connect mode but --curve-server-key is missing; a server that connects to a proxy is its CURVE client and needs the proxy's public key, which zsub proxy logs at startup. Set --curve-server-key or ZPUB_CURVE_SERVER_KEY",
    },
    {
      name: 'an allowlist in connect mode',
      args: (keys) => [
        ...connect,
        '--curve-secret-key-file',
        keys.server.keyFile,
        '--curve-server-key',
        keys.proxy.keys.publicKey,
        '--curve-allow-file',
        keys.backendAllowFile,
      ],
      message:
        'cannot start: --curve-allow-file applies in bind mode only; in connect mode the proxy checks publisher keys, with zsub proxy --frontend-allow-file. Remove --curve-allow-file or ZPUB_CURVE_ALLOW_FILE',
    },
    {
      name: 'a server key in bind mode',
      args: (keys) => [
        '--curve-secret-key-file',
        keys.server.keyFile,
        '--curve-server-key',
        keys.proxy.keys.publicKey,
      ],
      message:
        'cannot start: --curve-server-key applies in connect mode only (--publish-connect or --publish-mode connect); a server that binds is the CURVE server itself. Remove --curve-server-key or ZPUB_CURVE_SERVER_KEY',
    },
    {
      name: 'a server key that is not Z85',
      args: (keys) => [
        ...connect,
        '--curve-secret-key-file',
        keys.server.keyFile,
        '--curve-server-key',
        'not-a-key',
      ],
      message:
        'cannot start: --curve-server-key is not a CURVE key: expected 40 characters of Z85 text, as `zsub keygen` prints, got 9 characters',
    },
  ];

  for (const { name, args, env, message } of cases) {
    it(`rejects ${name}`, async () => {
      const keys = await writeKeys();
      const child = new Child(
        process.execPath,
        [SERVER_BIN, '--port', '0', ...args(keys)],
        env?.(keys) ?? {},
      );
      children.push(child);

      const { code } = await child.exited;

      expect(code).toBe(1);
      expect(fatalMessages(child)).toEqual([message]);
      expect(child.stdout.join('\n')).not.toContain(keys.server.keys.secretKey);
    });
  }
});

describe('zsub proxy CURVE settings', () => {
  const cases: {
    name: string;
    args: (keys: Keys) => string[];
    env?: (keys: Keys) => NodeJS.ProcessEnv;
    message: (keys: Keys) => string;
  }[] = [
    {
      name: 'a backend allowlist without a secret key',
      args: (keys) => ['--backend-allow-file', keys.backendAllowFile],
      message: () =>
        "zsub: --backend-allow-file is set but the proxy's CURVE secret key is missing; set --curve-secret-key-file or ZSUB_PROXY_CURVE_SECRET_KEY.",
    },
    {
      name: 'a frontend allowlist without a secret key',
      args: (keys) => ['--frontend-allow-file', keys.frontendAllowFile],
      message: () =>
        "zsub: --frontend-allow-file is set but the proxy's CURVE secret key is missing; set --curve-secret-key-file or ZSUB_PROXY_CURVE_SECRET_KEY.",
    },
    {
      name: 'a secret key from both sources',
      args: (keys) => ['--curve-secret-key-file', keys.proxy.keyFile],
      env: (keys) => ({
        ZSUB_PROXY_CURVE_SECRET_KEY: keys.proxy.keys.secretKey,
      }),
      message: () =>
        'zsub: both --curve-secret-key-file and ZSUB_PROXY_CURVE_SECRET_KEY are set; set only one.',
    },
    {
      name: 'an unreadable allowlist',
      args: (keys) => [
        '--curve-secret-key-file',
        keys.proxy.keyFile,
        '--backend-allow-file',
        join(keys.directory, 'missing.txt'),
      ],
      message: (keys) =>
        `zsub: cannot read --backend-allow-file ${join(keys.directory, 'missing.txt')}: ENOENT.`,
    },
    {
      name: 'an invalid secret key',
      args: () => [],
      env: () => ({ ZSUB_PROXY_CURVE_SECRET_KEY: 'this-is-not-a-key' }),
      message: () =>
        'zsub: ZSUB_PROXY_CURVE_SECRET_KEY is not a CURVE key: expected 40 characters of Z85 text, as `zsub keygen` prints, got 17 characters.',
    },
  ];

  for (const { name, args, env, message } of cases) {
    it(`rejects ${name}`, async () => {
      const keys = await writeKeys();
      const child = spawnProxy(args(keys), env?.(keys) ?? {});
      children.push(child);

      const { code } = await child.exited;

      expect(code).toBe(2);
      expect(child.stderr).toEqual([message(keys)]);
      expect(child.stderr.join('\n')).not.toContain('this-is-not-a-key');
      expect(child.stderr.join('\n')).not.toContain(keys.proxy.keys.secretKey);
    });
  }
});
