import { parseArgs } from 'node:util';
import type { SuiteOptions } from './suites.js';

export const SUITES = [
  'throughput',
  'steady',
  'slow',
  'peers',
  'scaleout',
  'flask',
  'subscribers',
  'cost',
  'micro',
] as const;
export type SuiteName = (typeof SUITES)[number];

export const HELP = `Usage: pnpm bench [-- options]

Runs every suite and writes BENCHMARKS.md at the repository root.

Options:
  --quick         only the throughput suite, in short runs (under 60 s);
                  prints the throughput ratio, the CPU per request and the
                  delivery check, and writes no file
  --only LIST     only these suites, comma-separated, and writes no file:
                  ${SUITES.join(', ')}
  --rounds N      rounds of the suites that alternate variants, in place
                  of 5 (3 with --quick); peers and scaleout run at most 3
  --duration S    seconds of each measured run, in place of 8 (2 with --quick)
  --warmup S      seconds of each warm-up run, in place of 3 (1 with --quick)
  --json          print the results as one JSON object instead of tables
  --help          print this help

--rounds, --duration and --warmup are for short checks: with any of them
the harness writes no file.
`;

export const FULL: SuiteOptions = {
  rounds: 5,
  durationS: 8,
  warmupS: 3,
  connections: 32,
  steadyRate: 5000,
  quietWaitMs: 10_000,
};
export const QUICK: SuiteOptions = {
  rounds: 3,
  durationS: 2,
  warmupS: 1,
  connections: 32,
  steadyRate: 5000,
  quietWaitMs: 1000,
};

/** The suites, options and output that one command line selects. */
export interface BenchCommand {
  help: boolean;
  json: boolean;
  quick: boolean;
  /** The suites to run, in the order of {@link SUITES}. */
  selected: SuiteName[];
  options: SuiteOptions;
  /** Only a full run with the default options writes BENCHMARKS.md. */
  mode: 'quick' | 'full' | 'partial';
  /** The command as the report shows it, without --json. */
  command: string;
}

/** The largest value --rounds, --duration and --warmup take. */
const MAX_COUNT = 1000;

function parseCount(
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const count = /^[0-9]{1,4}$/.test(value) ? Number(value) : 0;
  if (count < 1 || count > MAX_COUNT) {
    throw new Error(
      `invalid ${flag} ${JSON.stringify(value)}: expected a whole number from 1 to ${MAX_COUNT}`,
    );
  }

  return count;
}

/**
 * Parses the harness's arguments, as `process.argv.slice(2)`. Throws an
 * error that names the value for an unknown suite or an invalid number.
 */
export function parseCommandLine(argv: readonly string[]): BenchCommand {
  // pnpm passes a lone "--" through to the script.
  const args = argv.filter((arg) => arg !== '--');
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
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
  const rounds = parseCount('--rounds', values.rounds);
  const durationS = parseCount('--duration', values.duration);
  const warmupS = parseCount('--warmup', values.warmup);

  const preset = values.quick ? QUICK : FULL;
  const options: SuiteOptions = {
    ...preset,
    rounds: rounds ?? preset.rounds,
    durationS: durationS ?? preset.durationS,
    warmupS: warmupS ?? preset.warmupS,
  };
  const flags: string[] = [];
  if (values.quick) {
    flags.push('--quick');
  }
  if (only !== undefined) {
    flags.push('--only', only.join(','));
  }
  for (const [flag, value] of [
    ['--rounds', rounds],
    ['--duration', durationS],
    ['--warmup', warmupS],
  ] as const) {
    if (value !== undefined) {
      flags.push(flag, String(value));
    }
  }
  let mode: BenchCommand['mode'] = 'full';
  if (values.quick) {
    mode = 'quick';
  } else if (flags.length > 0) {
    mode = 'partial';
  }
  const requested = only ?? (values.quick ? ['throughput'] : SUITES);

  return {
    help: values.help,
    json: values.json,
    quick: values.quick,
    selected: SUITES.filter((name) => requested.includes(name)),
    options,
    mode,
    command:
      flags.length === 0 ? 'pnpm bench' : `pnpm bench -- ${flags.join(' ')}`,
  };
}
