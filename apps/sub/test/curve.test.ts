import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Publisher, generateKeyPair, type CurveKeyPair } from '@zpub/client';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { ZsubProcess, killRunningZsubs, runZsub } from './helpers.js';

afterEach(async () => {
  await killRunningZsubs();
});

/** Opens a CURVE publisher that allows `allowed`, closed after the test. */
async function openCurvePublisher(
  server: CurveKeyPair,
  allowed: readonly string[],
): Promise<Publisher> {
  const publisher = await Publisher.open({
    endpoint: 'tcp://127.0.0.1:0',
    curve: { secretKey: server.secretKey, allowedKeys: allowed },
  });
  onTestFinished(async () => {
    await publisher.close();
  });

  return publisher;
}

async function temporaryDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'zsub-curve-'));
}

/** Writes a key file as `zsub keygen --out` does and returns its path. */
async function writeKeyFile(keys: CurveKeyPair): Promise<string> {
  const path = join(await temporaryDirectory(), 'client.key');
  await writeFile(path, `# test key\n${keys.secretKey}\n`, { mode: 0o600 });

  return path;
}

describe('zsub keygen', () => {
  it('writes the secret key with mode 0600', async () => {
    const path = join(await temporaryDirectory(), 'zsub.key');

    const result = await runZsub(['keygen', '--out', path]);
    const text = await readFile(path, 'utf8');
    const mode = (await stat(path)).mode & 0o777;
    const [publicKey] = result.stdout;

    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([]);
    expect(result.stdout).toHaveLength(1);
    expect(publicKey).toMatch(/^.{40}$/);
    expect(mode).toBe(0o600);
    expect(text).toContain(`# public-key: ${publicKey}\n`);
    expect(text.split('\n').filter((line) => !line.startsWith('#'))).toEqual([
      expect.stringMatching(/^.{40}$/),
      '',
    ]);
  });

  it('keeps an existing file', async () => {
    const path = join(await temporaryDirectory(), 'zsub.key');
    await writeFile(path, 'old');

    const result = await runZsub(['keygen', '--out', path]);

    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([
      `zsub: cannot write --out ${path}: EEXIST; remove it or choose another path`,
    ]);
    expect(await readFile(path, 'utf8')).toBe('old');
  });

  it('prints both keys with a warning without --out', async () => {
    const result = await runZsub(['keygen']);

    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([
      expect.stringMatching(/^public-key: .{40}$/),
      expect.stringMatching(/^secret-key: .{40}$/),
    ]);
    expect(result.stderr).toEqual([
      'zsub: warning: the secret key is printed on stdout; pass --out FILE to write it to a file only you can read',
    ]);
  });

  it('exits 2 for an unknown option', async () => {
    const result = await runZsub(['keygen', '--bogus']);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      "zsub: unknown option '--bogus'",
      "Run 'zsub keygen --help' for usage.",
    ]);
  });
});

describe('zsub with CURVE', () => {
  it('receives with an allowed key file', async () => {
    const server = generateKeyPair();
    const client = generateKeyPair();
    const publisher = await openCurvePublisher(server, [client.publicKey]);
    const keyFile = await writeKeyFile(client);
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--server-key',
      server.publicKey,
      '--curve-key-file',
      keyFile,
      '--raw',
      '--count',
      '1',
    ]);
    await zsub.waitForReady();
    publisher.publish('number', 7);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['7']);
    expect(zsub.stderr).not.toContain(client.secretKey);
  });

  it('takes the secret key from the environment', async () => {
    const server = generateKeyPair();
    const client = generateKeyPair();
    const publisher = await openCurvePublisher(server, [client.publicKey]);
    const zsub = new ZsubProcess(
      ['--endpoint', publisher.endpoint, '--raw', '--count', '1'],
      {
        ZSUB_SERVER_KEY: server.publicKey,
        ZSUB_CURVE_SECRET_KEY: client.secretKey,
      },
    );
    await zsub.waitForReady();
    publisher.publish('number', 8);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['8']);
  });

  const FAILURES = [
    {
      name: 'no keys',
      args: (): string[] => [],
      // The first attempt may fail either way, depending on which side
      // libzmq notices first.
      reason:
        /^(one side uses CURVE and the other does not \(ERR_ZMTP_MECHANISM_MISMATCH\)|the connection closed during the handshake .*)$/,
    },
    {
      name: 'a wrong server key',
      args: (_server: CurveKeyPair, keyFile: string): string[] => [
        '--server-key',
        generateKeyPair().publicKey,
        '--curve-key-file',
        keyFile,
      ],
      reason:
        /^the connection closed during the handshake \(Broken pipe \(EPIPE\)\), as when the CURVE server key is wrong$/,
    },
    {
      name: 'a key off the allowlist',
      args: (server: CurveKeyPair): string[] => [
        '--server-key',
        server.publicKey,
      ],
      reason: "the publisher rejected this subscriber's key (ZAP status 400)",
    },
  ];

  it.each(FAILURES)(
    'with $name receives nothing and exits 1 within 5 s',
    async ({ args, reason }) => {
      const server = generateKeyPair();
      const client = generateKeyPair();
      const publisher = await openCurvePublisher(server, [client.publicKey]);
      const keyFile = await writeKeyFile(client);
      const started = performance.now();

      const result = await runZsub([
        '--endpoint',
        publisher.endpoint,
        ...args(server, keyFile),
      ]);
      const elapsedMs = performance.now() - started;
      const endpoint = publisher.endpoint;

      expect(result.code).toBe(1);
      expect(result.stdout).toEqual([]);
      expect(result.stderr).toHaveLength(2);
      const prefix = `zsub: warning: handshake with ${endpoint} failed: `;
      expect(result.stderr[0]?.startsWith(prefix)).toBe(true);
      const text = result.stderr[0]?.slice(prefix.length);
      if (typeof reason === 'string') {
        expect(text).toBe(reason);
      } else {
        expect(text).toMatch(reason);
      }
      expect(result.stderr[1]).toBe(
        `zsub: cannot subscribe: the handshake with ${endpoint} keeps failing. Check --server-key, this subscriber's key and the allowlist of the publisher or proxy.`,
      );
      expect(elapsedMs, `exit took ${elapsedMs.toFixed(0)} ms`).toBeLessThan(
        5000,
      );
      expect(result.stderr.join('\n')).not.toContain(client.secretKey);
    },
  );

  it('rejects a key file without --server-key', async () => {
    const keyFile = await writeKeyFile(generateKeyPair());

    const result = await runZsub(['--curve-key-file', keyFile]);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      "zsub: --curve-key-file is set but --server-key is missing; pass the publisher's public key with --server-key or ZSUB_SERVER_KEY",
      "Run 'zsub --help' for usage.",
    ]);
  });

  it('rejects an unreadable key file', async () => {
    const path = join(await temporaryDirectory(), 'missing.key');

    const result = await runZsub([
      '--server-key',
      generateKeyPair().publicKey,
      '--curve-key-file',
      path,
    ]);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      `zsub: cannot read --curve-key-file ${path}: ENOENT.`,
      "Run 'zsub --help' for usage.",
    ]);
  });

  it('rejects an invalid secret key without printing it', async () => {
    const secret = 'not-a-key-but-secret';

    const result = await runZsub(
      ['--server-key', generateKeyPair().publicKey],
      {
        ZSUB_CURVE_SECRET_KEY: secret,
      },
    );

    expect(result.code).toBe(2);
    expect(result.stderr[0]).toBe(
      `zsub: ZSUB_CURVE_SECRET_KEY is not a CURVE key: expected 40 characters of Z85 text, as \`zsub keygen\` prints, got ${secret.length} characters.`,
    );
    expect(result.stderr.join('\n')).not.toContain(secret);
  });
});
