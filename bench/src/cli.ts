/**
 * `pnpm bench`: measures zpub on this machine and writes BENCHMARKS.md.
 * Run `pnpm bench -- --help` for the options.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { flaskSuite } from './flask.js';
import type { MicroResult } from './micro.js';
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
  type SuiteOptions,
} from './suites.js';
import { describeEnvironment } from './versions.js';

const SUITES = [
  'throughput',
  'steady',
  'slow',
  'peers',
  'flask',
  'subscribers',
  'cost',
  'micro',
] as const;
type SuiteName = (typeof SUITES)[number];

const HELP = `Usage: pnpm bench [-- options]

Runs every suite and writes BENCHMARKS.md at the repository root.

Options:
  --quick         only the throughput suite, in short runs (under 60 s);
                  prints the throughput ratio, the CPU per request and the
                  delivery check, and writes no file
  --only LIST     only these suites, comma-separated, and writes no file:
                  ${SUITES.join(', ')}
  --json          print the results as one JSON object instead of tables
  --help          print this help
`;

const FULL: SuiteOptions = {
  rounds: 5,
  durationS: 8,
  warmupS: 3,
  connections: 32,
  steadyRate: 5000,
  quietWaitMs: 10_000,
};
const QUICK: SuiteOptions = {
  rounds: 3,
  durationS: 2,
  warmupS: 1,
  connections: 32,
  steadyRate: 5000,
  quietWaitMs: 1000,
};

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

function parseCommandLine(): {
  quick: boolean;
  json: boolean;
  only: SuiteName[] | undefined;
} {
  // pnpm passes a lone "--" through to the script.
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  let only: SuiteName[] | undefined;
  if (values.only !== undefined) {
    only = values.only.split(',').map((name) => {
      if (!(SUITES as readonly string[]).includes(name)) {
        throw new Error(
          `invalid suite ${JSON.stringify(name)} in --only; expected ${SUITES.join(', ')}`,
        );
      }
      return name as SuiteName;
    });
  }

  return { quick: values.quick, json: values.json, only };
}

async function main(): Promise<number> {
  installCleanup();
  const { quick, json, only } = parseCommandLine();
  const options = quick ? QUICK : FULL;
  const selected: readonly SuiteName[] =
    only ?? (quick ? ['throughput'] : SUITES);
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
  let mode: BenchResults['mode'] = 'full';
  let command = 'pnpm bench';
  if (quick) {
    mode = 'quick';
    command += ' -- --quick';
  } else if (only !== undefined) {
    mode = 'partial';
    command += ` -- --only ${only.join(',')}`;
  }
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
