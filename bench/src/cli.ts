/**
 * `pnpm bench`: measures zpub on this machine and writes BENCHMARKS.md.
 * Run `pnpm bench -- --help` for the options.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flaskSuite } from './flask.js';
import type { MicroResult } from './micro.js';
import { HELP, parseCommandLine, type SuiteName } from './options.js';
import {
  SERVER_CORE,
  installCleanup,
  killAllChildren,
  runPinned,
  workerScript,
} from './processes.js';
import { measureForeignLoad } from './procfs.js';
import {
  checkTargets,
  renderMarkdown,
  renderText,
  replaceResults,
  type BenchResults,
} from './report.js';
import { scaleoutSuite } from './scaleout.js';
import {
  messageCostSuite,
  subscribeApiSuite,
  zsubSuite,
} from './subscribers.js';
import {
  peersSuite,
  slowSubscriberSuite,
  steadySuite,
  throughputSuite,
} from './suites.js';
import { describeEnvironment } from './versions.js';

/** Busy wait per event of the slow subscriber, in µs. */
const SLOW_SUBSCRIBER_US = 5000;
/**
 * flushDelayMs of the third steady-rate variant, which shows what a longer
 * batch wait buys at that rate.
 */
const STEADY_FLUSH_DELAY_MS = 1;
/** Requests of each Flask batch. */
const FLASK_REQUESTS = 5;
/** Time between turns of the message cost suite, in µs: 5,000 per second. */
const COST_INTERVAL_US = 200;
/** Turns per run of the message cost suite. */
const COST_TURNS = 10_000;
/** The longest run of the step timings. */
const MICRO_TIMEOUT_MS = 120_000;
/** Events the blaster publishes per event-loop turn. */
const BLAST_PER_TURN = 100;

const BENCHMARKS_FILE = fileURLToPath(
  new URL('../../BENCHMARKS.md', import.meta.url),
);

async function main(): Promise<number> {
  installCleanup();
  const { help, json, selected, options, mode, command } = parseCommandLine(
    process.argv.slice(2),
  );
  if (help) {
    process.stdout.write(HELP);
    return 0;
  }
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
  const results: BenchResults = {
    mode,
    command,
    environment: describeEnvironment(),
    options,
    targets: [],
    failures: {},
    foreignLoad: {},
  };

  const run = async <T>(
    name: SuiteName,
    suite: () => Promise<T>,
  ): Promise<T | undefined> => {
    if (!selected.includes(name)) {
      return undefined;
    }
    log(`running ${name}`);
    const start = performance.now();
    try {
      const { result, foreignCoreShare } = await measureForeignLoad(suite);
      results.foreignLoad[name] = foreignCoreShare;
      if (foreignCoreShare > 0.05) {
        log(
          `other processes used ${(foreignCoreShare * 100).toFixed(0)}% of the machine during ${name}; its numbers may be off`,
        );
      }
      return result;
    } catch (error) {
      results.failures[name] = (error as Error).message;
      log(`${name} failed: ${(error as Error).message}`);
      return undefined;
    } finally {
      log(`${name} took ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
  };

  results.throughput = await run('throughput', () => throughputSuite(options));
  results.steady = await run('steady', () =>
    steadySuite(options, STEADY_FLUSH_DELAY_MS),
  );
  results.slowSubscriber = await run('slow', () =>
    slowSubscriberSuite(options, SLOW_SUBSCRIBER_US),
  );
  results.peers = await run('peers', () =>
    peersSuite({ ...options, rounds: Math.min(options.rounds, 3) }),
  );
  results.scaleout = await run('scaleout', () =>
    scaleoutSuite({ ...options, rounds: Math.min(options.rounds, 3) }),
  );
  results.flask = await run('flask', () => flaskSuite(FLASK_REQUESTS));
  results.subscribers = await run('subscribers', async () => [
    await subscribeApiSuite(options.durationS, BLAST_PER_TURN),
    await zsubSuite(options.durationS, BLAST_PER_TURN),
  ]);
  results.messageCost = await run('cost', () =>
    messageCostSuite(COST_INTERVAL_US, COST_TURNS),
  );
  results.micro = await run('micro', async () => {
    const output = await runPinned(
      SERVER_CORE,
      process.execPath,
      [workerScript('micro')],
      MICRO_TIMEOUT_MS,
    );
    return JSON.parse(output) as MicroResult;
  });
  results.targets = checkTargets(results);

  process.stdout.write(
    json ? `${JSON.stringify(results)}\n` : renderText(results),
  );
  if (results.mode === 'full') {
    const existing = existsSync(BENCHMARKS_FILE)
      ? readFileSync(BENCHMARKS_FILE, 'utf8')
      : undefined;
    writeFileSync(
      BENCHMARKS_FILE,
      replaceResults(existing, renderMarkdown(results)),
    );
    log(`wrote ${BENCHMARKS_FILE}`);
  }

  return Object.keys(results.failures).length === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 2;
} finally {
  killAllChildren();
}
