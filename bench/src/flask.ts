import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import type { LoadResult } from './load.js';
import {
  LOAD_CORE,
  SERVER_CORE,
  captureOutput,
  runPinned,
  spawnPinned,
  workerScript,
} from './processes.js';

/** Debian's Python, which has python3-flask and python3-zmq. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const FLASK_DIR = fileURLToPath(new URL('../flask/', import.meta.url));

/** One batch of requests to the Flask app. */
export interface FlaskRun {
  requests: number;
  concurrency: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; max: number };
  /** Responses by HTTP status code. */
  statuses: Record<string, number>;
  errors: number;
  /** Messages the pyzmq subscriber received during the batch. */
  delivered: number;
}

export interface FlaskResult {
  sequential: FlaskRun;
  concurrent: FlaskRun;
  /** Lines the Flask app logged for failed requests, at most 3. */
  errorLines: string[];
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') {
    throw new Error('cannot find a free port');
  }

  return address.port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) {
      return;
    }
    await sleep(100);
  }
  throw new Error(
    `the Flask app did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`,
  );
}

/**
 * Runs the Flask app of flask/app.py on the server core and a pyzmq
 * subscriber on the load core, then sends `count` requests one after the
 * other and `count` at once.
 */
export async function flaskSuite(count: number): Promise<FlaskResult> {
  const httpPort = await freePort();
  const zmqPort = await freePort();
  const flask = spawnPinned(SERVER_CORE, SYSTEM_PYTHON, [
    `${FLASK_DIR}app.py`,
    '--port',
    String(httpPort),
    '--zmq-port',
    String(zmqPort),
  ]);
  const flaskOutput = captureOutput(flask);
  const errorLines: string[] = [];
  createInterface({ input: flask.stderr! }).on('line', (line) => {
    if (/Error|error/.test(line) && errorLines.length < 3) {
      errorLines.push(line.trim());
    }
  });
  const subscriber = spawnPinned(LOAD_CORE, SYSTEM_PYTHON, [
    `${FLASK_DIR}subscriber.py`,
    '--zmq-port',
    String(zmqPort),
    '--duration',
    String(count * 2 + 30),
  ]);
  const subscriberOutput = captureOutput(subscriber);
  let delivered = 0;
  let subscriberReady!: () => void;
  const ready = new Promise<void>((resolve) => (subscriberReady = resolve));
  createInterface({ input: subscriber.stdout! }).on('line', (line) => {
    if (line === 'ready') {
      subscriberReady();
    } else {
      delivered++;
    }
  });

  try {
    await Promise.all([waitForPort(httpPort, 10_000), ready]);
    const batch = async (concurrency: number): Promise<FlaskRun> => {
      const before = delivered;
      const output = await runPinned(
        LOAD_CORE,
        process.execPath,
        [
          workerScript('load'),
          '--mode',
          'closed',
          '--url',
          `http://127.0.0.1:${httpPort}`,
          '--path',
          '/print/1',
          '--count',
          String(count),
          '--concurrency',
          String(concurrency),
        ],
        count * 3000 + 20_000,
      );
      // A message sent just before the response may still be on its way.
      await sleep(500);
      const result = JSON.parse(output) as LoadResult;

      return {
        requests: result.sent,
        concurrency,
        requestsPerSecond: result.rate,
        latencyMs: { p50: result.latencyMs.p50, max: result.latencyMs.max },
        statuses: result.statuses,
        errors: result.errors,
        delivered: delivered - before,
      };
    };
    const sequential = await batch(1);
    const concurrent = await batch(count);

    return { sequential, concurrent, errorLines };
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\nFlask output:\n${flaskOutput()}\nsubscriber output:\n${subscriberOutput()}`,
    );
  } finally {
    flask.kill('SIGKILL');
    subscriber.kill('SIGKILL');
  }
}
