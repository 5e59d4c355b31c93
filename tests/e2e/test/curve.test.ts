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
  startServer,
  startZsub,
  type KeyPair,
  killedAfterEach,
} from './processes.js';

const children = killedAfterEach();

interface KeyFiles {
  directory: string;
  server: KeyPair;
  client: KeyPair;
  serverKeyFile: string;
  clientKeyFile: string;
  allowFile: string;
}

/** Writes a server key file, a client key file and an allowlist. */
async function writeKeyFiles(): Promise<KeyFiles> {
  const directory = await mkdtemp(join(tmpdir(), 'zpub-e2e-curve-'));
  const serverKeyFile = join(directory, 'server.key');
  const clientKeyFile = join(directory, 'client.key');
  const allowFile = join(directory, 'allowed.txt');
  const server = await keygen(serverKeyFile);
  const client = await keygen(clientKeyFile);
  await writeFile(allowFile, `# subscribers\n${client.publicKey}\n`);

  return {
    directory,
    server,
    client,
    serverKeyFile,
    clientKeyFile,
    allowFile,
  };
}

function runServer(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = new Child(
    process.execPath,
    [SERVER_BIN, '--port', '0', '--publish', 'tcp://127.0.0.1:0', ...args],
    env,
  );
  children.push(child);

  return child;
}

describe('CURVE end to end', () => {
  it('delivers to an allowed zsub and turns others away', async () => {
    const keys = await writeKeyFiles();
    const server = await startServer([
      '--curve-secret-key-file',
      keys.serverKeyFile,
      '--curve-allow-file',
      keys.allowFile,
    ]);
    children.push(server.child);
    const allowed = await startZsub([
      '--endpoint',
      server.publish,
      '--server-key',
      keys.server.publicKey,
      '--curve-key-file',
      keys.clientKeyFile,
      '--topic',
      'number',
      '--raw',
      '--count',
      '1',
    ]);
    children.push(allowed);
    const stranger = new Child(process.execPath, [
      ZSUB_BIN,
      '--endpoint',
      server.publish,
      '--server-key',
      keys.server.publicKey,
      '--topic',
      'number',
    ]);
    children.push(stranger);

    const strangerExit = await stranger.exited;
    await fetch(`${server.url}/print/5`);
    const allowedExit = await allowed.exited;
    const logs = server.child.stdout.join('\n');

    expect(allowedExit.code).toBe(0);
    expect(allowed.stdout).toEqual(['{"number":5}']);
    expect(strangerExit.code).toBe(1);
    expect(stranger.stdout).toEqual([]);
    expect(stranger.stderr.at(-1)).toMatch(
      /^zsub: cannot subscribe: the handshake with .* keeps failing/,
    );
    expect(
      server.child.stdout.filter((line) =>
        line.includes('zpub rejected a subscriber'),
      ),
    ).toHaveLength(1);
    expect(logs).toContain(keys.server.publicKey);
    expect(logs).not.toContain(keys.server.secretKey);
    expect(logs).not.toContain(keys.client.secretKey);
  });

  it('takes the secret key from ZPUB_CURVE_SECRET_KEY', async () => {
    const keys = await writeKeyFiles();
    const server = await startServer([], {
      ZPUB_CURVE_SECRET_KEY: keys.server.secretKey,
      ZPUB_CURVE_ALLOW_FILE: keys.allowFile,
    });
    children.push(server.child);
    const zsub = await startZsub([
      '--endpoint',
      server.publish,
      '--server-key',
      keys.server.publicKey,
      '--curve-key-file',
      keys.clientKeyFile,
      '--topic',
      'number',
      '--raw',
      '--count',
      '1',
    ]);
    children.push(zsub);

    await fetch(`${server.url}/print/6`);

    expect((await zsub.exited).code).toBe(0);
    expect(zsub.stdout).toEqual(['{"number":6}']);
  });
});

describe('CURVE startup checks', () => {
  it('rejects an allowlist without a secret key', async () => {
    const keys = await writeKeyFiles();
    const child = runServer(['--curve-allow-file', keys.allowFile]);

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(fatalMessages(child)).toEqual([
      'cannot start: --curve-allow-file is set but the CURVE secret key is missing; set --curve-secret-key-file or ZPUB_CURVE_SECRET_KEY',
    ]);
  });

  it('rejects a public key without a secret key', async () => {
    const keys = await writeKeyFiles();
    const child = runServer(['--curve-public-key', keys.client.publicKey]);

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(fatalMessages(child)).toEqual([
      'cannot start: --curve-public-key is set but the CURVE secret key is missing; set --curve-secret-key-file or ZPUB_CURVE_SECRET_KEY',
    ]);
  });

  it('rejects an unreadable key file', async () => {
    const keys = await writeKeyFiles();
    const missing = join(keys.directory, 'missing.key');
    const child = runServer(['--curve-secret-key-file', missing]);

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(fatalMessages(child)).toEqual([
      `cannot start: cannot read --curve-secret-key-file ${missing}: ENOENT`,
    ]);
  });

  it('rejects a public key of another pair', async () => {
    const keys = await writeKeyFiles();
    const child = runServer([
      '--curve-secret-key-file',
      keys.serverKeyFile,
      '--curve-public-key',
      keys.client.publicKey,
    ]);

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(fatalMessages(child)).toEqual([
      `cannot start: --curve-public-key does not belong to the CURVE secret key; its public key is ${keys.server.publicKey}`,
    ]);
  });

  it('rejects an invalid key without logging it', async () => {
    const secret = 'this-is-not-a-key';
    const child = runServer([], { ZPUB_CURVE_SECRET_KEY: secret });

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(fatalMessages(child)).toEqual([
      `cannot start: ZPUB_CURVE_SECRET_KEY is not a CURVE key: expected 40 characters of Z85 text, as \`zsub keygen\` prints, got ${secret.length} characters`,
    ]);
    expect(child.stdout.join('\n')).not.toContain(secret);
  });
});

describe('exposure warning', () => {
  it('is logged once for tcp://* without CURVE', async () => {
    const server = await startServer(['--publish', 'tcp://*:0']);
    children.push(server.child);

    const warnings = server.child.stdout
      .map(parseLog)
      .filter((log) => log?.level === 40);

    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/ without CURVE: anyone who can reach it/);
  });

  it('is not logged for the loopback default', async () => {
    const server = await startServer();
    children.push(server.child);

    const warnings = server.child.stdout
      .map(parseLog)
      .filter((log) => log?.level === 40);

    expect(warnings).toEqual([]);
  });
});
