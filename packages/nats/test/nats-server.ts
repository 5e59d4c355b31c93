import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { onTestFinished } from 'vitest';

export { waitUntil } from 'test-helpers';

/** The shared NATS server with JetStream that CI starts. */
export const NATS_ENDPOINT = 'nats://127.0.0.1:4222';

/** A stream and subject prefix of one test, so tests never share subjects. */
export interface TestStream {
  name: string;
  /** First token of every topic of the test, such as `t3f9a0c`. */
  prefix: string;
}

/**
 * Names a stream and a subject prefix for this test. The stream itself is
 * created by the publisher under test; it is deleted when the test finishes.
 */
export function testStream(endpoint = NATS_ENDPOINT): TestStream {
  const id = randomBytes(5).toString('hex');
  const stream = { name: `ZPUB_TEST_${id}`, prefix: `t${id}` };
  onTestFinished(() => deleteStream(endpoint, stream.name));

  return stream;
}

async function deleteStream(endpoint: string, name: string): Promise<void> {
  const connection = await connect({ servers: endpoint.slice(7) });
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(name).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') {
    throw new Error('no TCP address');
  }

  return address.port;
}

/**
 * A nats-server of the test's own, with JetStream in a temporary folder, so
 * that a test can stop and restart it without touching the shared server.
 */
export class OwnNatsServer {
  readonly endpoint: string;
  readonly #port: number;
  readonly #storeDirectory: string;
  #process: ChildProcess | undefined;

  private constructor(port: number, storeDirectory: string) {
    this.#port = port;
    this.#storeDirectory = storeDirectory;
    this.endpoint = `nats://127.0.0.1:${port}`;
  }

  /**
   * Starts the server on `port`, or on a free port when none is given. The
   * server is stopped and its folder removed when the test finishes.
   */
  static async start(port?: number): Promise<OwnNatsServer> {
    const directory = await mkdtemp(join(tmpdir(), 'zpub-nats-'));
    const server = new OwnNatsServer(port ?? (await freePort()), directory);
    onTestFinished(async () => {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    });
    await server.restart();

    return server;
  }

  /** Starts the server again on the same port and folder. */
  async restart(): Promise<void> {
    const child = spawn(
      '/usr/sbin/nats-server',
      [
        '-a',
        '127.0.0.1',
        '-p',
        String(this.#port),
        '-js',
        '-sd',
        this.#storeDirectory,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#process = child;
    // nats-server logs to stderr and prints this line once it accepts clients.
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => {
        output += text;
        if (output.includes('Server is ready')) {
          resolve();
        }
      });
      child.once('exit', (code) =>
        reject(new Error(`nats-server exited with ${code}: ${output}`)),
      );
    });
  }

  /** Kills the server at once, as a crash would. */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null) {
      return;
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
