/**
 * HTTP load from Node.js, for what wrk cannot do. `paced` sends requests on
 * a fixed timetable and measures each from its scheduled time, so a server
 * that stalls is charged for the requests that waited (no coordinated
 * omission). `closed` sends a fixed number of requests with a fixed
 * concurrency. Both print one JSON object on stdout and stop by themselves.
 */
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import {
  SampleBuffer,
  summarizeLatency,
  type LatencySummary,
} from './stats.js';

export interface LoadResult {
  sent: number;
  completed: number;
  errors: number;
  /** Responses by HTTP status code. */
  statuses: Record<string, number>;
  /** Error messages of failed requests, at most 5 distinct ones. */
  errorMessages: string[];
  /** Milliseconds from the scheduled (paced) or actual (closed) send. */
  latencyMs: LatencySummary;
  durationMs: number;
  /** Completed requests per second of durationMs. */
  rate: number;
}

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'paced' },
    url: { type: 'string' },
    // Paced requests go to PATH followed by a number from 0 to 999, closed
    // ones to PATH as it is.
    path: { type: 'string', default: '/stamp/' },
    rate: { type: 'string', default: '5000' },
    'duration-ms': { type: 'string', default: '5000' },
    connections: { type: 'string', default: '32' },
    count: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
if (values.url === undefined) {
  throw new Error('missing --url');
}
const base = new URL(values.url);
const timeoutMs = Number(values['timeout-ms']);
const latencies = new SampleBuffer(10_000_000);
const statuses: Record<string, number> = {};
const errorMessages = new Set<string>();
let sent = 0;
let completed = 0;
let errors = 0;

/** Sends one request with node:http, for the closed mode. */
function request(
  agent: http.Agent,
  path: string,
  startedAt: number,
): Promise<void> {
  sent++;
  return new Promise((resolve) => {
    const fail = (error: Error) => {
      errors++;
      if (errorMessages.size < 5) {
        errorMessages.add(error.message);
      }
      resolve();
    };
    const outgoing = http.get(
      { agent, host: base.hostname, port: base.port, path, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.on('error', fail);
        response.on('end', () => {
          completed++;
          const status = String(response.statusCode);
          statuses[status] = (statuses[status] ?? 0) + 1;
          latencies.push(performance.now() - startedAt);
          resolve();
        });
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', fail);
  });
}

/**
 * One keep-alive connection that carries one request at a time and reads
 * Fastify's responses, which always have a Content-Length. Raw sockets keep
 * the load generator's own CPU use, and so its share of the load core, low.
 */
class PacedConnection {
  readonly #socket: Socket;
  readonly #onDone: (connection: PacedConnection) => void;
  #buffer: Buffer = Buffer.alloc(0);
  #startedAt = 0;
  busy = false;

  constructor(onDone: (connection: PacedConnection) => void) {
    this.#onDone = onDone;
    this.#socket = connect(Number(base.port), base.hostname);
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('close', () => {
      if (this.busy) {
        this.#fail(new Error('connection closed'));
      }
    });
  }

  send(request: Buffer, scheduledAt: number): void {
    sent++;
    this.busy = true;
    this.#startedAt = scheduledAt;
    this.#socket.write(request);
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffer =
      this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headerEnd = this.#buffer.indexOf('\r\n\r\n');
    if (headerEnd === -1) {
      return;
    }
    const header = this.#buffer.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(header);
    const total = headerEnd + 4 + Number(length?.[1] ?? 0);
    if (this.#buffer.length < total) {
      return;
    }
    this.#buffer = this.#buffer.subarray(total);
    const status = header.slice(9, 12);
    statuses[status] = (statuses[status] ?? 0) + 1;
    completed++;
    latencies.push(performance.now() - this.#startedAt);
    this.busy = false;
    this.#onDone(this);
  }

  #fail(error: Error): void {
    errors++;
    if (errorMessages.size < 5) {
      errorMessages.add(error.message);
    }
    this.busy = false;
  }
}

async function paced(): Promise<number> {
  const rate = Number(values.rate);
  const durationMs = Number(values['duration-ms']);
  const total = Math.round((rate * durationMs) / 1000);
  const intervalMs = 1000 / rate;
  const requests = Array.from({ length: 1000 }, (_, index) =>
    Buffer.from(
      `GET ${values.path}${index} HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`,
    ),
  );
  // Requests whose time has come but that found every connection busy.
  const waiting: number[] = [];
  const idle: PacedConnection[] = [];
  let index = 0;
  const dispatch = (connection: PacedConnection) => {
    const scheduledAt = waiting.shift();
    if (scheduledAt === undefined) {
      idle.push(connection);
    } else {
      const request = requests[sent % requests.length] as Buffer;
      connection.send(request, scheduledAt);
    }
  };
  const connections = Array.from(
    { length: Number(values.connections) },
    () => new PacedConnection(dispatch),
  );
  idle.push(...connections);
  // Atomics.wait sleeps for less than a millisecond, which setTimeout cannot,
  // so requests leave on their own schedule rather than in 1 ms bursts.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (index < total && start + index * intervalMs <= now) {
        waiting.push(start + index * intervalMs);
        index++;
      }
      while (waiting.length > 0 && idle.length > 0) {
        dispatch(idle.pop() as PacedConnection);
      }
      if (index >= total) {
        resolve();
        return;
      }
      const waitMs = start + index * intervalMs - performance.now();
      if (waitMs > 1.5) {
        setTimeout(tick, waitMs - 1);
      } else {
        if (waitMs > 0) {
          Atomics.wait(sleeper, 0, 0, waitMs);
        }
        setImmediate(tick);
      }
    };
    tick();
  });
  const deadline = performance.now() + timeoutMs;
  while (completed + errors < sent && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  for (const connection of connections) {
    connection.close();
  }

  return performance.now() - start;
}

async function closed(): Promise<number> {
  const count = Number(values.count);
  const concurrency = Number(values.concurrency);
  const agent = new http.Agent({ keepAlive: false });
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await request(agent, values.path, performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  return performance.now() - start;
}

const durationMs = values.mode === 'closed' ? await closed() : await paced();
const result: LoadResult = {
  sent,
  completed,
  errors,
  statuses,
  errorMessages: [...errorMessages],
  latencyMs: summarizeLatency(latencies.values),
  durationMs,
  rate: (completed * 1000) / durationMs,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
