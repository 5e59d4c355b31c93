import { isIP } from 'node:net';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  InvalidTopicError,
  assertTopicFilter,
} from '@zpub/protocol';
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from 'commander';
import packageJson from '../package.json' with { type: 'json' };

/** Exit code of a usage error: an unknown option or an invalid value. */
export const USAGE_EXIT_CODE = 2;

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 5555;

/**
 * The maximum of --timeout, in seconds. Node.js's setTimeout fires after 1 ms
 * for a delay above 2^31 - 1 ms (about 24.8 days), so longer timeouts are
 * rejected.
 */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

export const OUTPUT_FORMATS = ['pretty', 'json', 'raw'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Everything a run of zsub needs, resolved from the command line. */
export interface Config {
  endpoint: string;
  /** Topic filters. An empty list receives every topic. */
  topics: string[];
  output: OutputFormat;
  /** False with --no-color or a non-empty NO_COLOR. */
  color: boolean;
  /** Number of events after which zsub exits 0, or undefined to run until stopped. */
  count: number | undefined;
  timeoutSeconds: number | undefined;
  maxMessageBytes: number;
  quiet: boolean;
}

/** The command line's outcome: a run to start, or an exit code. */
export type CommandLine =
  { kind: 'run'; config: Config } | { kind: 'exit'; exitCode: number };

export interface CommandLineContext {
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal, which picks the default output format. */
  stdoutIsTerminal: boolean;
}

/** The value of --output before the terminal check picks a format. */
const AUTOMATIC_OUTPUT = 'auto';

interface ProgramOptions {
  topic: string[];
  host: string;
  port: number;
  endpoint?: string;
  output: OutputFormat | typeof AUTOMATIC_OUTPUT;
  json?: true;
  raw?: true;
  color: boolean;
  count?: number;
  timeout?: number;
  maxMessageSize: number;
  quiet?: true;
}

const HELP_AFTER = `
Events go to stdout, one per line. Notices go to stderr, one per line and
prefixed "zsub: ". Unless --quiet is given, the first line on stderr is
"zsub: ready, ..." once the subscription is live.

Output formats:
  pretty  local time (HH:MM:SS.mmm), topic and data as JSON. The time is the
          event's "time" attribute, or the arrival time when it has none.
          Colored when stdout is a terminal, unless --no-color is given or
          NO_COLOR is set. FORCE_COLOR=1 colors it on a pipe too.
  json    the whole CloudEvent as one line of JSON (NDJSON)
  raw     the event's data only: a string as it is, any other value as JSON

Options on the command line take precedence over environment variables.
ZSUB_TOPIC takes topics separated by commas, ZSUB_QUIET takes 1, true, 0 or
false, and a NO_COLOR that is set and not empty turns color off.

Exit codes:
  0    --count events were printed, or stdout was closed
  1    runtime error, such as an invalid endpoint
  2    usage error
  124  --timeout passed
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`;

/** Builds the commander program with every option of zsub. */
export function createProgram(): Command {
  return new Command('zsub')
    .description(
      'Subscribe to a zpub publisher over ZeroMQ and print its events.',
    )
    .version(packageJson.version, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .addOption(
      new Option(
        '-t, --topic <topic>',
        'receive this topic and the topics under it. Repeat the option or separate topics with commas',
      )
        .env('ZSUB_TOPIC')
        .default([], 'every topic')
        .argParser(parseTopics),
    )
    .addOption(
      new Option('--host <host>', 'host name or IP address of the publisher')
        .env('ZSUB_HOST')
        .default(DEFAULT_HOST)
        .argParser(parseHost),
    )
    .addOption(
      new Option('-p, --port <port>', 'TCP port of the publisher')
        .env('ZSUB_PORT')
        .default(DEFAULT_PORT)
        .argParser(parsePort),
    )
    .addOption(
      new Option(
        '-e, --endpoint <url>',
        'publisher endpoint, tcp://HOST:PORT or ipc://PATH, in place of --host and --port',
      )
        .env('ZSUB_ENDPOINT')
        .argParser(parseEndpointText),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(OUTPUT_FORMATS)
        .default(AUTOMATIC_OUTPUT, 'pretty on a terminal, json otherwise')
        .env('ZSUB_OUTPUT'),
    )
    .addOption(new Option('--json', 'same as --output json'))
    .addOption(new Option('--raw', 'same as --output raw'))
    .addOption(
      new Option(
        '--no-color',
        'print pretty output without color (env: NO_COLOR)',
      ),
    )
    .addOption(
      new Option(
        '-n, --count <events>',
        'exit 0 after printing this many events',
      )
        .env('ZSUB_COUNT')
        .argParser(parsePositiveInteger),
    )
    .addOption(
      new Option(
        '--timeout <seconds>',
        'exit 124 this many seconds after the start, unless --count events arrived first',
      )
        .env('ZSUB_TIMEOUT')
        .argParser(parseTimeout),
    )
    .addOption(
      new Option(
        '--max-message-size <bytes>',
        'skip messages larger than this, with a notice',
      )
        .env('ZSUB_MAX_MESSAGE_SIZE')
        .default(DEFAULT_MAX_MESSAGE_BYTES)
        .argParser(parsePositiveInteger),
    )
    .addOption(
      new Option(
        '-q, --quiet',
        'print only warnings and errors on stderr, not the ready line or other notices',
      ).env('ZSUB_QUIET'),
    )
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError("Run 'zsub --help' for usage.")
    .configureOutput({
      outputError: (message, write) => write(formatUsageError(message)),
    })
    .exitOverride();
}

/**
 * Parses the arguments after the program name. Prints help, the version or a
 * usage error itself and then returns the exit code for them.
 */
export async function parseCommandLine(
  args: readonly string[],
  context: CommandLineContext,
): Promise<CommandLine> {
  const program = createProgram();
  try {
    await program.parseAsync(args, { from: 'user' });

    return { kind: 'run', config: resolveConfig(program, context) };
  } catch (error) {
    if (error instanceof CommanderError) {
      return {
        kind: 'exit',
        exitCode: error.exitCode === 0 ? 0 : USAGE_EXIT_CODE,
      };
    }
    throw error;
  }
}

/** Turns commander's "error: ..." text into one line of zsub output. */
function formatUsageError(message: string): string {
  const text = message
    .trim()
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ');

  return `zsub: ${text}\n`;
}

function resolveConfig(program: Command, context: CommandLineContext): Config {
  const options = program.opts<ProgramOptions>();
  const usageError = (message: string): never =>
    program.error(message, { exitCode: USAGE_EXIT_CODE });

  return {
    endpoint: resolveEndpoint(program, options, usageError),
    topics: options.topic,
    output: resolveOutput(program, options, context, usageError),
    color: options.color && !isSet(context.env.NO_COLOR),
    count: options.count,
    timeoutSeconds: options.timeout,
    maxMessageBytes: options.maxMessageSize,
    quiet: resolveQuiet(program, context, usageError),
  };
}

/**
 * Picks --endpoint or --host and --port. A command-line value overrides one
 * from the environment, and two from the same place are a usage error.
 */
function resolveEndpoint(
  program: Command,
  options: ProgramOptions,
  usageError: (message: string) => never,
): string {
  const address = tcpEndpoint(options.host, options.port);
  if (options.endpoint === undefined) {
    return address;
  }

  const endpointSource = program.getOptionValueSource('endpoint');
  const addressSources = [
    program.getOptionValueSource('host'),
    program.getOptionValueSource('port'),
  ];
  if (endpointSource === 'cli') {
    if (addressSources.includes('cli')) {
      usageError('--endpoint cannot be combined with --host or --port');
    }

    return options.endpoint;
  }
  if (addressSources.includes('cli')) {
    return address;
  }
  if (addressSources.includes('env')) {
    usageError(
      'ZSUB_ENDPOINT cannot be combined with ZSUB_HOST or ZSUB_PORT. Unset one of them.',
    );
  }

  return options.endpoint;
}

/**
 * Picks the output format from --output, --json and --raw. The shorthands
 * override ZSUB_OUTPUT, and two different formats on the command line are a
 * usage error.
 */
function resolveOutput(
  program: Command,
  options: ProgramOptions,
  context: CommandLineContext,
  usageError: (message: string) => never,
): OutputFormat {
  const shorthands: OutputFormat[] = [];
  if (options.json === true) {
    shorthands.push('json');
  }
  if (options.raw === true) {
    shorthands.push('raw');
  }
  if (shorthands.length > 1) {
    usageError('--json cannot be combined with --raw');
  }

  const [shorthand] = shorthands;
  if (shorthand !== undefined) {
    const outputSource = program.getOptionValueSource('output');
    if (outputSource === 'cli' && options.output !== shorthand) {
      usageError(
        `--${shorthand} cannot be combined with --output ${options.output}`,
      );
    }

    return shorthand;
  }
  if (options.output === AUTOMATIC_OUTPUT) {
    return context.stdoutIsTerminal ? 'pretty' : 'json';
  }

  return options.output;
}

/**
 * Reads --quiet. Commander sets a flag for any value of its variable, so the
 * value of ZSUB_QUIET is checked here.
 */
function resolveQuiet(
  program: Command,
  context: CommandLineContext,
  usageError: (message: string) => never,
): boolean {
  const source = program.getOptionValueSource('quiet');
  if (source === 'cli') {
    return true;
  }
  if (source !== 'env') {
    return false;
  }

  const value = (context.env.ZSUB_QUIET ?? '').trim().toLowerCase();
  if (value === '1' || value === 'true') {
    return true;
  }
  if (value === '0' || value === 'false' || value === '') {
    return false;
  }

  return usageError(
    `invalid ZSUB_QUIET ${JSON.stringify(context.env.ZSUB_QUIET)}: expected 1, true, 0 or false`,
  );
}

/** Builds `tcp://HOST:PORT`, with an IPv6 address in brackets. */
export function tcpEndpoint(host: string, port: number): string {
  const hostText = isIP(host) === 6 ? `[${host}]` : host;

  return `tcp://${hostText}:${port}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== '';
}

function parseTopics(value: string, previous: string[]): string[] {
  const topics = value
    .split(',')
    .map((topic) => topic.trim())
    .filter((topic) => topic.length > 0);
  // An empty value, as from --topic '', is the empty filter: every topic.
  if (topics.length === 0) {
    topics.push('');
  }
  for (const topic of topics) {
    try {
      assertTopicFilter(topic);
    } catch (error) {
      if (error instanceof InvalidTopicError) {
        throw new InvalidArgumentError(`${capitalize(error.message)}.`);
      }
      throw error;
    }
  }

  return [...previous, ...topics];
}

const HOST_NAME = /^[A-Za-z0-9_.-]+$/;

function parseHost(value: string): string {
  const bracketed = /^\[(.*)\]$/.exec(value);
  if (bracketed !== null && isIP(bracketed[1] ?? '') === 6) {
    return value;
  }
  if (isIP(value) !== 0 || HOST_NAME.test(value)) {
    return value;
  }

  throw new InvalidArgumentError(
    'Expected a host name, an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1.',
  );
}

function parsePort(value: string): number {
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError('Expected an integer from 1 to 65535.');
  }

  return port;
}

function parseEndpointText(value: string): string {
  if (value.trim() === '') {
    throw new InvalidArgumentError('Expected tcp://HOST:PORT or ipc://PATH.');
  }

  return value;
}

function parsePositiveInteger(value: string): number {
  const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError('Expected a positive integer.');
  }

  return number;
}

function parseTimeout(value: string): number {
  const seconds = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(value)
    ? Number(value)
    : Number.NaN;
  if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new InvalidArgumentError(
      `Expected a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}.`,
    );
  }

  return seconds;
}
