import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The built example server of apps/server. */
export const SERVER_BIN = fileURLToPath(
  new URL('../../server/bin/server.js', import.meta.url),
);

/** How long the server may take to log that it listens. */
const START_LIMIT_MS = 10_000;

/** The example server running as a process on ephemeral ports. */
export interface RunningServer {
  /** HTTP base URL, such as http://127.0.0.1:41234. */
  url: string;
  /** ZeroMQ endpoint its events go out on. */
  publish: string;
  /** Sends GET requests one after another and returns their statuses. */
  get(...paths: string[]): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Starts the built server with `--port 0 --publish tcp://127.0.0.1:0` and
 * resolves once its startup line has the HTTP URL and the endpoint.
 */
export async function startServer(): Promise<RunningServer> {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    [SERVER_BIN, '--port', '0', '--publish', 'tcp://127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => resolve()),
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const { url, publish } = await new Promise<{ url: string; publish: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the server did not start:\n${output}`));
      }, START_LIMIT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code}:\n${output}`));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        output += `${line}\n`;
        const log = parseJson(line);
        if (typeof log?.url === 'string' && typeof log.publish === 'string') {
          clearTimeout(timer);
          resolve({ url: log.url, publish: log.publish });
        }
      });
    },
  );

  return {
    url,
    publish,
    async get(...paths) {
      const statuses: number[] = [];
      for (const path of paths) {
        const response = await fetch(`${url}${path}`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      return statuses;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      await exited;
    },
  };
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
