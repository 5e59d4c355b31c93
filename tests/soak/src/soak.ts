import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ServerMessage } from './messages.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.js', import.meta.url));
const ZSUB_BIN = fileURLToPath(
  new URL('../../../apps/sub/bin/zsub.js', import.meta.url),
);

const USAGE = `Usage: pnpm soak -- [--minutes N] [--rate R] [--concurrency C]

Runs mixed HTTP load (2xx to 5xx) on a zpub server on 127.0.0.1 with a zsub
subscriber, prints the server's RSS, heap, external and ArrayBuffer memory,
queue depth, published, received and dropped once a minute, and stops by
itself after N minutes. Exits 0 when the subscriber received every
published event and nothing was dropped, 1 otherwise.

  --minutes N      how long the load runs, 1 to 1440 (default: 1)
  --rate R         requests started per second, 1 to 20000 (default: 1000)
  --concurrency C  requests in flight at most, 1 to 1000 (default: 32)`;

/** How long the soak waits for the subscriber to catch up after the load. */
const DRAIN_LIMIT_MS = 10_000;

const REPORT_INTERVAL_MS = 60_000;

/** Requests of the mixed load, each with its share of the total. */
const ROUTES: { weight: number; method: string; path: () => string }[] = [
  { weight: 50, method: 'GET', path: () => '/ok' },
  { weight: 15, method: 'POST', path: () => '/items' },
  { weight: 10, method: 'GET', path: () => `/items/${randomInteger(1000)}` },
  { weight: 5, method: 'GET', path: () => '/items/not-a-number' },
  { weight: 5, method: 'GET', path: () => '/redirect' },
  { weight: 5, method: 'GET', path: () => '/missing' },
  { weight: 5, method: 'GET', path: () => '/fail' },
  { weight: 5, method: 'GET', path: () => '/slow' },
];
const TOTAL_WEIGHT = ROUTES.reduce((total, route) => total + route.weight, 0);

interface Settings {
  minutes: number;
  rate: number;
  concurrency: number;
}

/** Counters of the run, kept by the driver. */
interface Counters {
  requests: number;
  byClass: Record<'2xx' | '3xx' | '4xx' | '5xx', number>;
  requestErrors: number;
  received: number;
  missed: number;
}

function randomInteger(limit: number): number {
  return Math.floor(Math.random() * limit);
}

function pickRoute(): (typeof ROUTES)[number] {
  let draw = Math.random() * TOTAL_WEIGHT;
  for (const route of ROUTES) {
    draw -= route.weight;
    if (draw < 0) {
      return route;
    }
  }

  return ROUTES[0] as (typeof ROUTES)[number];
}

function parseSettings(argv: readonly string[]): Settings {
  // pnpm passes the `--` of `pnpm soak -- --minutes N` on to the script.
  const args = argv.filter((arg) => arg !== '--');
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: 'string', default: '1' },
      rate: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }

  return {
    minutes: parseBounded('--minutes', values.minutes, 1, 1440),
    rate: parseBounded('--rate', values.rate, 1, 20_000),
    concurrency: parseBounded('--concurrency', values.concurrency, 1, 1000),
  };
}

function parseBounded(
  name: string,
  text: string,
  minimum: number,
  maximum: number,
): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < minimum || value > maximum) {
    throw new UsageError(
      `${name} must be a number from ${minimum} to ${maximum}, got ${JSON.stringify(text)}`,
    );
  }

  return value;
}

class UsageError extends Error {}

/** Starts the soak server and resolves with its URL and endpoint. */
async function startServer(): Promise<{
  server: ChildProcess;
  url: string;
  endpoint: string;
}> {
  const server = fork(SERVER_SCRIPT, [], { stdio: 'inherit' });
  const [message] = (await once(server, 'message')) as [ServerMessage];
  if (message.kind !== 'listening') {
    throw new Error(`the soak server sent ${message.kind} before listening`);
  }

  return { server, url: message.url, endpoint: message.endpoint };
}

/** Asks the server for its counters and RSS. */
async function serverStats(
  server: ChildProcess,
): Promise<Extract<ServerMessage, { kind: 'stats' }>> {
  server.send({ kind: 'stats' });
  while (true) {
    const [message] = (await once(server, 'message')) as [ServerMessage];
    if (message.kind === 'stats') {
      return message;
    }
  }
}

/** Starts zsub on every topic and counts its events and missed events. */
async function startSubscriber(
  endpoint: string,
  counters: Counters,
): Promise<ChildProcess> {
  const zsub = spawn(
    process.execPath,
    [ZSUB_BIN, '--endpoint', endpoint, '--json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  createInterface({ input: zsub.stdout }).on('line', () => {
    counters.received++;
  });
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: zsub.stderr }).on('line', (line) => {
      const missed = /^zsub: missed (\d+) event/.exec(line);
      if (missed !== null) {
        counters.missed += Number(missed[1]);
      }
      if (line.startsWith('zsub: ready')) {
        resolve();
      } else {
        process.stderr.write(`${line}\n`);
      }
    });
  });
  await ready;

  return zsub;
}

/** Sends one request of the mix and counts its status class. */
function sendRequest(
  url: string,
  agent: Agent,
  counters: Counters,
): Promise<void> {
  const route = pickRoute();
  const body =
    route.method === 'POST'
      ? JSON.stringify({ n: randomInteger(1e6) })
      : undefined;

  return new Promise((resolve) => {
    const req = request(
      `${url}${route.path()}`,
      {
        agent,
        method: route.method,
        headers:
          body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const statusClass =
            `${Math.floor(status / 100)}xx` as keyof Counters['byClass'];
          if (statusClass in counters.byClass) {
            counters.byClass[statusClass]++;
          }
          counters.requests++;
          resolve();
        });
      },
    );
    req.on('error', () => {
      counters.requestErrors++;
      resolve();
    });
    req.end(body);
  });
}

/**
 * Starts requests at `rate` per second with at most `concurrency` in
 * flight until `deadline`, then waits for those in flight.
 */
async function runLoad(
  url: string,
  settings: Settings,
  counters: Counters,
  deadline: number,
): Promise<void> {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: settings.concurrency,
  });
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;
  while (performance.now() < deadline) {
    const due = Math.floor(
      ((performance.now() - started) / 1000) * settings.rate,
    );
    while (sent < due && inFlight.size < settings.concurrency) {
      const pending = sendRequest(url, agent, counters).then(() => {
        inFlight.delete(pending);
      });
      inFlight.add(pending);
      sent++;
    }
    // Requests that could not start for the concurrency bound are skipped,
    // not queued, so the load stays bounded.
    sent = Math.max(sent, due);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(inFlight);
  agent.destroy();
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function report(
  label: string,
  server: ChildProcess,
  counters: Counters,
): Promise<Extract<ServerMessage, { kind: 'stats' }>> {
  const stats = await serverStats(server);
  const { byClass } = counters;
  process.stdout.write(
    `${label}: rss ${formatMegabytes(stats.rssBytes)}, heap used ${formatMegabytes(stats.heapUsedBytes)}, external ${formatMegabytes(stats.externalBytes)}, array buffers ${formatMegabytes(stats.arrayBuffersBytes)}, queue depth ${stats.queueDepth}, published ${stats.published}, received ${counters.received}, dropped ${stats.dropped}, missed ${counters.missed}, unrouted ${stats.unrouted}, send errors ${stats.sendErrors}; requests ${counters.requests} (2xx ${byClass['2xx']}, 3xx ${byClass['3xx']}, 4xx ${byClass['4xx']}, 5xx ${byClass['5xx']}, failed ${counters.requestErrors})\n`,
  );

  return stats;
}

async function main(): Promise<number> {
  let settings: Settings;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(
      `soak: ${(error as Error).message}\nRun 'pnpm soak -- --help' for usage.\n`,
    );
    return 2;
  }
  const counters: Counters = {
    requests: 0,
    byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    requestErrors: 0,
    received: 0,
    missed: 0,
  };
  const { server, url, endpoint } = await startServer();
  const zsub = await startSubscriber(endpoint, counters);
  process.stdout.write(
    `soak: ${settings.minutes} min at ${settings.rate} requests/s, at most ${settings.concurrency} in flight; server ${url}, events ${endpoint}\n`,
  );

  const startedAt = Date.now();
  const deadline = performance.now() + settings.minutes * 60_000;
  let minute = 0;
  const reporter = setInterval(() => {
    minute++;
    void report(`minute ${minute}`, server, counters);
  }, REPORT_INTERVAL_MS);
  await runLoad(url, settings, counters, deadline);
  clearInterval(reporter);

  // Let the subscriber read what is still on its way.
  const drainDeadline = Date.now() + DRAIN_LIMIT_MS;
  let stats = await serverStats(server);
  while (counters.received < stats.published && Date.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    stats = await serverStats(server);
  }
  stats = await report('end', server, counters);
  const elapsedSeconds = ((Date.now() - startedAt) / 1000).toFixed(0);

  zsub.kill('SIGTERM');
  await once(zsub, 'exit');
  server.kill('SIGTERM');
  await once(server, 'exit');

  const lost = stats.published - counters.received;
  const clean =
    lost === 0 &&
    stats.dropped === 0 &&
    counters.missed === 0 &&
    stats.sendErrors === 0;
  process.stdout.write(
    `soak: ${clean ? 'no loss' : `LOSS: ${lost} events not received, ${stats.dropped} dropped, ${counters.missed} missed`} after ${elapsedSeconds} s\n`,
  );

  return clean ? 0 : 1;
}

process.exit(await main());
