import { InvalidTopicError, assertTopicFilter } from '@zpub/protocol';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ExpectationError, compileExpectation } from './expect.js';
import {
  FilterError,
  parseDuration,
  parseMethods,
  parseRoutePattern,
  parseStatusSpec,
  type EventPredicate,
  type FilterConfig,
  type RoutePattern,
  type StatusSpec,
} from './filters.js';
import {
  TemplateError,
  compileTemplate,
  type TemplateRenderer,
} from './template.js';

/** Default of --concurrency. */
export const DEFAULT_CONCURRENCY = 1;

/** Default of --exec-backlog, in events. */
export const DEFAULT_EXEC_BACKLOG = 1000;

/** Default of --interval, in seconds. */
export const DEFAULT_STATS_INTERVAL_SECONDS = 1;

/** The minimum of --interval, in seconds, so that the view stays readable. */
export const MIN_STATS_INTERVAL_SECONDS = 0.1;

/** The maximum of second counts, as for --timeout: setTimeout's limit. */
const MAX_SECONDS = 2_147_483;

/** The maximum of --concurrency, a bound on the processes zsub starts. */
export const MAX_CONCURRENCY = 1024;

/** A compiled --expect expression. */
export interface Expectation {
  text: string;
  matches: EventPredicate;
}

export interface ExecConfig {
  command: string;
  concurrency: number;
  /** --exec-timeout in milliseconds, or undefined for none. */
  timeoutMs: number | undefined;
  backlog: number;
}

export interface StatsConfig {
  intervalMs: number;
}

/** The options of output templates, filters and actions, resolved. */
export interface ActionConfig {
  /** The --format template, which replaces --output. */
  template: TemplateRenderer | undefined;
  filters: FilterConfig;
  expectation: Expectation | undefined;
  exec: ExecConfig | undefined;
  stats: StatsConfig | undefined;
}

interface ActionOptions {
  format?: TemplateRenderer;
  exclude: string[];
  method: string[];
  route: RoutePattern[];
  status: StatusSpec[];
  slowerThan?: number;
  expect?: Expectation;
  exec?: string;
  concurrency: number;
  execTimeout?: number;
  execBacklog: number;
  stats?: true;
  interval: number;
}

const FILTERS = 'Filter options:';
const EXEC = 'Exec options:';
const STATS = 'Stats options:';

/** Adds the options of templates, filters, --expect, --exec and --stats. */
export function addActionOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--format <template>',
        'print each event with this template in place of --output, such as "{time:%T} {data.status} {data.path}"; see Templates below',
      )
        .env('ZSUB_FORMAT')
        .default(undefined, 'none')
        .argParser(parseTemplate),
    )
    .addOption(
      new Option(
        '--exclude <topic>',
        'drop this topic and the topics under it. Repeat the option or separate topics with commas',
      )
        .env('ZSUB_EXCLUDE')
        .default([], 'none')
        .argParser(parseExcludedTopics)
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--method <method>',
        'pass request events of this method, such as GET. Repeat the option or separate methods with commas',
      )
        .default([], 'every method')
        .argParser(collect(parseMethods))
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--route <pattern>',
        'pass request events whose route or path matches, such as /orders/* ("*" within a segment, "**" across segments). Repeatable',
      )
        .default([], 'every route')
        .argParser(collect((value) => [parseRoutePattern(value)]))
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--status <codes>',
        'pass request events with this status: a class (5xx), a code (404), a comparison (>=400) or a range (400-499). Repeat the option or separate codes with commas',
      )
        .default([], 'every status')
        .argParser(collect((value) => [parseStatusSpec(value)]))
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--slower-than <duration>',
        'pass request events that took longer than this: a number with ms, s or m, such as 250ms; milliseconds without a unit',
      )
        .default(undefined, 'no minimum')
        .argParser(wrap(parseDuration))
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--expect <expr>',
        'exit 0 after printing the first event that matches, such as "status=500 route=/checkout"; see Expressions below',
      )
        .default(undefined, 'none')
        .argParser(parseExpectation)
        .helpGroup(FILTERS),
    )
    .addOption(
      new Option(
        '--exec <command>',
        'run this command for each event in place of printing it, with the event as JSON on stdin; see Exec below',
      )
        .default(undefined, 'none')
        .argParser(parseCommand)
        .helpGroup(EXEC),
    )
    .addOption(
      new Option(
        '--concurrency <commands>',
        `commands that run at once, at most ${MAX_CONCURRENCY}; at 1 they run strictly in the order of the events`,
      )
        .default(DEFAULT_CONCURRENCY)
        .argParser(parseConcurrency)
        .helpGroup(EXEC),
    )
    .addOption(
      new Option(
        '--exec-timeout <seconds>',
        'stop a command after this many seconds with SIGTERM, and SIGKILL 1 s later',
      )
        .default(undefined, 'no timeout')
        .argParser(parseSeconds)
        .helpGroup(EXEC),
    )
    .addOption(
      new Option(
        '--exec-backlog <events>',
        'events that wait while every command slot is busy; zsub skips and reports events past it',
      )
        .default(DEFAULT_EXEC_BACKLOG)
        .argParser(parseBacklog)
        .helpGroup(EXEC),
    )
    .addOption(
      new Option(
        '--stats',
        'show live statistics in place of the events ("zsub stats" is the same); see Stats below',
      ).helpGroup(STATS),
    )
    .addOption(
      new Option('--interval <seconds>', 'refresh interval of --stats')
        .default(DEFAULT_STATS_INTERVAL_SECONDS)
        .argParser(parseInterval)
        .helpGroup(STATS),
    );
}

/**
 * Resolves the action options and rejects combinations that make no sense,
 * such as --exec with --format. Only options from the command line conflict,
 * so that a ZSUB_FORMAT in the environment does not break --json.
 */
export function resolveActionConfig(
  program: Command,
  usageError: (message: string) => never,
): ActionConfig {
  const options = program.opts<ActionOptions>();
  const onCommandLine = (name: string): boolean =>
    program.getOptionValueSource(name) === 'cli';
  const firstOnCommandLine = (names: readonly string[]): string | undefined =>
    names.find(onCommandLine);
  const reject = (option: string, others: readonly string[]): void => {
    const other = firstOnCommandLine(others);
    if (onCommandLine(option) && other !== undefined) {
      usageError(`--${option} cannot be combined with --${flagName(other)}`);
    }
  };

  const outputOptions = ['output', 'json', 'raw'];
  reject('stats', ['exec', 'format', 'expect', ...outputOptions]);
  reject('exec', ['format', ...outputOptions]);
  reject('format', outputOptions);
  reject('expect', ['count']);
  for (const option of ['concurrency', 'execTimeout', 'execBacklog']) {
    if (onCommandLine(option) && options.exec === undefined) {
      usageError(`--${flagName(option)} needs --exec`);
    }
  }
  if (onCommandLine('interval') && options.stats !== true) {
    usageError('--interval needs --stats');
  }

  // A template from ZSUB_FORMAT yields to an output format on the command
  // line, as ZSUB_OUTPUT does.
  const templateApplies =
    options.stats !== true &&
    options.exec === undefined &&
    (onCommandLine('format') ||
      firstOnCommandLine(outputOptions) === undefined);

  return {
    template: templateApplies ? options.format : undefined,
    filters: {
      excludedTopics: options.exclude,
      methods: options.method,
      routes: options.route,
      statuses: options.status,
      slowerThanMs: options.slowerThan,
    },
    expectation: options.expect,
    exec:
      options.exec === undefined
        ? undefined
        : {
            command: options.exec,
            concurrency: options.concurrency,
            timeoutMs:
              options.execTimeout === undefined
                ? undefined
                : options.execTimeout * 1000,
            backlog: options.execBacklog,
          },
    stats:
      options.stats === true
        ? { intervalMs: options.interval * 1000 }
        : undefined,
  };
}

/** Turns an attribute name such as execTimeout into exec-timeout. */
function flagName(attribute: string): string {
  return attribute.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Turns the errors of a parser of the action modules into commander's. */
function wrap<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      if (
        error instanceof FilterError ||
        error instanceof TemplateError ||
        error instanceof ExpectationError
      ) {
        throw new InvalidArgumentError(error.message);
      }
      throw error;
    }
  };
}

/** Makes a repeatable option that appends what `parse` returns. */
function collect<T>(
  parse: (value: string) => T[],
): (value: string, previous: T[]) => T[] {
  const parseValue = wrap(parse);

  return (value, previous) => [...previous, ...parseValue(value)];
}

function parseCommand(value: string): string {
  if (value.trim() === '') {
    throw new InvalidArgumentError('Expected a command such as "cat".');
  }

  return value;
}

function parseTemplate(value: string): TemplateRenderer {
  return wrap(compileTemplate)(value);
}

function parseExpectation(value: string): Expectation {
  return { text: value, matches: wrap(compileExpectation)(value) };
}

function parseExcludedTopics(value: string, previous: string[]): string[] {
  const topics = value
    .split(',')
    .map((topic) => topic.trim())
    .filter((topic) => topic.length > 0);
  if (topics.length === 0) {
    throw new InvalidArgumentError('Expected a topic such as http.GET.');
  }
  for (const topic of topics) {
    try {
      assertTopicFilter(topic);
    } catch (error) {
      if (error instanceof InvalidTopicError) {
        throw new InvalidArgumentError(
          `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`,
        );
      }
      throw error;
    }
  }

  return [...previous, ...topics];
}

function parseInteger(value: string, min: number, max: number): number {
  const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) {
    throw new InvalidArgumentError(
      `Expected an integer from ${min} to ${max}.`,
    );
  }

  return number;
}

function parseConcurrency(value: string): number {
  return parseInteger(value, 1, MAX_CONCURRENCY);
}

function parseBacklog(value: string): number {
  return parseInteger(value, 0, Number.MAX_SAFE_INTEGER);
}

function parseSecondsAtLeast(value: string, min: number): number {
  const seconds = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(value)
    ? Number(value)
    : Number.NaN;
  if (!(seconds >= min && seconds > 0 && seconds <= MAX_SECONDS)) {
    const lower = min > 0 ? `at least ${min}` : 'above 0';
    throw new InvalidArgumentError(
      `Expected a number of seconds ${lower} and at most ${MAX_SECONDS}.`,
    );
  }

  return seconds;
}

function parseSeconds(value: string): number {
  return parseSecondsAtLeast(value, 0);
}

function parseInterval(value: string): number {
  return parseSecondsAtLeast(value, MIN_STATS_INTERVAL_SECONDS);
}
