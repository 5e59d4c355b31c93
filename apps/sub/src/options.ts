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
import type { NatsJetStreamOptions, ZmqCurveClientOptions } from '@zpub/client';
import packageJson from '../package.json' with { type: 'json' };
import {
  addActionOptions,
  resolveActionConfig,
  type ActionConfig,
} from './action-options.js';
import { addCurveOptions, resolveCurve } from './curve.js';
import { describeOption } from './help.js';
import { addJetStreamOptions, resolveJetStream } from './jetstream-options.js';

/** Exit code of a usage error: an unknown option or an invalid value. */
export const USAGE_EXIT_CODE = 2;

/** The line printed after every usage error. */
export const HELP_HINT = "Run 'zsub --help' for usage.";

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
export interface Config extends ActionConfig {
  /** Publisher endpoints, one or more, without repeats. */
  endpoints: string[];
  /** The JetStream stream and start position, or undefined for live events only. */
  jetstream?: NatsJetStreamOptions;
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
  /** True with --strict: the first message that cannot be decoded ends the run. */
  strict: boolean;
  /** CURVE options from --server-key and the key file, or undefined. */
  curve: ZmqCurveClientOptions | undefined;
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
  endpoint?: string[];
  output: OutputFormat | typeof AUTOMATIC_OUTPUT;
  json?: true;
  raw?: true;
  color: boolean;
  count?: number;
  timeout?: number;
  maxMessageSize: number;
  quiet?: true;
  strict?: true;
}

const HELP_AFTER = `
Events go to stdout, one per line. Notices go to stderr, one per line and
prefixed "zsub: ". Unless --quiet is given, zsub writes "zsub: ready, ..."
once the subscription is live at every endpoint. Warnings, such as for an
endpoint that cannot be reached yet, are written at once and can come
before that line; other notices come after it. With several endpoints,
events from the endpoints already live can come before it.

Output formats:
  pretty  local time (HH:MM:SS.mmm), topic and data as JSON. The time is the
          event's "time" attribute, or the arrival time when it has none.
          Colored when stdout is a terminal, unless --no-color is given or
          NO_COLOR is set. FORCE_COLOR=1 colors it on a pipe too.
  json    the whole CloudEvent as one line of JSON (NDJSON)
  raw     the event's data only: a string as it is, any other value as JSON

Templates:
  --format replaces {PATH} with the event's field at PATH, such as {topic},
  {id}, {time}, {data.status} or {data.params.number}: a string as it is,
  any other value as JSON, and a missing field as nothing. {PATH:FORMAT}
  reads the field as a time (RFC 3339 text, or milliseconds since the
  epoch) and formats it in local time with %Y %m %d %H %M %S, %L
  (milliseconds), %s (seconds since the epoch), %z, %F (%Y-%m-%d), %T
  (%H:%M:%S) and %%. The escapes are \\t \\n \\r \\0 \\\\ \\{ and \\}. Each
  event ends with a newline, unless the template ends with \\0.

Filters:
  --method, --route, --status and --slower-than pass request events only
  (type dev.zpub.http.request). Every filter given must pass, and for a
  repeated filter one of its values is enough.

Expressions:
  --expect takes terms separated by spaces, all of which must hold. A term
  is FIELD OP VALUE, with OP one of = != > >= < <=. The fields method,
  route, path, status and duration read request events as the filters do
  (status=5xx, duration>250ms), and topic=T matches T and the topics under
  it. Any other field is a path into the event: = and != compare it as
  text, the other operators as a number. For example:
    zsub --expect 'status=500 route=/checkout' --timeout 60

Exec:
  --exec runs COMMAND for each event, with the event as one line of JSON
  on stdin and the variables ZSUB_TOPIC, ZSUB_ID, ZSUB_TYPE, ZSUB_SOURCE and
  ZSUB_SEQUENCE set, and for request events ZSUB_METHOD, ZSUB_ROUTE,
  ZSUB_PATH, ZSUB_STATUS and ZSUB_DURATION_MS. COMMAND runs through
  /bin/sh -c when it contains a shell special character such as | ; & $ < >
  * ? = or a quote, and directly otherwise. The commands write to zsub's
  stdout and stderr. A command that fails or times out is counted and
  reported on stderr, and zsub goes on. --count and --expect wait for the
  running commands; a signal or --timeout stops them.

Stats:
  --stats counts the events that pass the filters. On a terminal it shows a
  view refreshed every --interval: events/s per topic and route, status
  classes, latency p50, p95 and p99 (within 1 %), missed events and
  publisher instances. Otherwise it prints one logfmt line per interval,
  such as "time=... events=12 rate=12.0/s total=40 ... p99=4.10ms ...".

Options on the command line take precedence over environment variables.
ZSUB_TOPIC, ZSUB_ENDPOINT and ZSUB_EXCLUDE take values separated by
commas, ZSUB_QUIET takes 1, true, 0 or false, and a NO_COLOR that is set
and not empty turns color off.

NATS:
  With nats:// endpoints zsub receives live events on core NATS. --stream,
  --since, --last, --durable and --group read the JetStream stream
  instead, and the ready line comes before the stored events. Each zsub of
  a --group receives only part of the events, so a real loss cannot be told
  from an event that went to another member: a group member reports
  publisher restarts but no missed or out-of-order events. zsub proxy
  forwards ZeroMQ events from many publishers to many subscribers; zsub
  proxy --help describes it.

CURVE:
  --server-key turns on encryption for ZeroMQ endpoints. zsub exits 1 when
  the handshake keeps failing, as with a wrong key. "zsub keygen --out FILE"
  makes a key pair for --curve-key-file; see "zsub keygen --help".

Exit codes:
  0    --count events were handled, --expect matched, or stdout was closed
  1    runtime error, such as a failed handshake or a bad message with
       --strict
  2    usage error: an unknown option or an invalid value, such as an
       invalid endpoint
  124  --timeout passed
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`;

/** Builds the commander program with every option of zsub. */
export function createProgram(): Command {
  const program = new Command('zsub')
    .description(
      'Subscribe to zpub publishers over ZeroMQ or NATS, and print, run a command for, or count each event.',
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
        'publisher or proxy endpoint, tcp://HOST:PORT or ipc://PATH, or a NATS server, nats://HOST:PORT, in place of --host and --port. Repeat the option or separate endpoints with commas to subscribe to several publishers at once, or to list the servers of one NATS system',
      )
        .env('ZSUB_ENDPOINT')
        .default(undefined, 'tcp://HOST:PORT from --host and --port')
        .argParser(parseEndpoints),
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
        'exit 0 after this many events: printed, run with --exec or counted by --stats',
      )
        .env('ZSUB_COUNT')
        .default(undefined, 'no limit')
        .argParser(parsePositiveInteger),
    )
    .addOption(
      new Option(
        '--timeout <seconds>',
        'exit 124 this many seconds after the start, unless --count events arrived first',
      )
        .env('ZSUB_TIMEOUT')
        .default(undefined, 'no timeout')
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
        '--strict',
        'exit 1 at the first message that cannot be decoded, instead of skipping it',
      ),
    )
    .addOption(
      new Option(
        '-q, --quiet',
        'print only warnings and errors on stderr, not the ready line or other notices',
      ).env('ZSUB_QUIET'),
    )
    .usage(
      '[options]\n       zsub stats [options]\n       zsub proxy [options]\n       zsub keygen [--out FILE]',
    )
    .configureHelp({ optionDescription: describeOption })
    // Extra words are rejected in resolveConfig, with a message that names
    // the word, rather than by commander's "too many arguments".
    .allowExcessArguments();
  addActionOptions(program);
  addJetStreamOptions(program);
  addCurveOptions(program);

  return program
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError(HELP_HINT)
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
  // `zsub stats ...` is `zsub --stats ...`.
  const commandArgs =
    args[0] === 'stats' ? ['--stats', ...args.slice(1)] : args;
  try {
    await program.parseAsync(commandArgs, { from: 'user' });

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

  const [extra] = program.args;
  if (extra !== undefined) {
    usageError(describeExtraArgument(extra));
  }
  const endpoints = resolveEndpoints(program, options, usageError);
  const jetstream = resolveJetStream(program, endpoints, usageError);
  const curve = resolveCurve(program, context.env, usageError);
  if (curve !== undefined && endpoints.some(isNatsEndpoint)) {
    usageError(
      "--server-key applies to ZeroMQ endpoints only: drop --server-key or ZSUB_SERVER_KEY for a nats:// endpoint, which uses the NATS server's TLS and credentials",
    );
  }

  return {
    endpoints,
    ...(jetstream === undefined ? {} : { jetstream }),
    topics: options.topic,
    output: resolveOutput(program, options, context, usageError),
    color: options.color && !isSet(context.env.NO_COLOR),
    count: options.count,
    timeoutSeconds: options.timeout,
    maxMessageBytes: options.maxMessageSize,
    quiet: resolveQuiet(program, context, usageError),
    strict: options.strict === true,
    curve,
    ...resolveActionConfig(program, usageError),
  };
}

/**
 * Picks --endpoint or --host and --port. A command-line value overrides one
 * from the environment, and two from the same place are a usage error.
 */
function resolveEndpoints(
  program: Command,
  options: ProgramOptions,
  usageError: (message: string) => never,
): string[] {
  const address = [tcpEndpoint(options.host, options.port)];
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

    return [...new Set(options.endpoint)];
  }
  if (addressSources.includes('cli')) {
    return address;
  }
  if (addressSources.includes('env')) {
    usageError(
      'ZSUB_ENDPOINT cannot be combined with ZSUB_HOST or ZSUB_PORT. Unset one of them.',
    );
  }

  return [...new Set(options.endpoint)];
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

const SUBCOMMANDS: readonly string[] = ['stats', 'proxy', 'keygen'];

/** Returns the usage error for a word that is neither an option nor a value. */
function describeExtraArgument(word: string): string {
  const quoted = JSON.stringify(word);
  if (SUBCOMMANDS.includes(word)) {
    return `unknown argument ${quoted}. A subcommand must be the first argument, as in "zsub ${word} [options]".`;
  }

  return `unknown argument ${quoted}. zsub takes options only, or the subcommand stats, proxy or keygen as its first argument.`;
}

/** Builds `tcp://HOST:PORT`, with an IPv6 address in brackets. */
export function tcpEndpoint(host: string, port: number): string {
  const hostText = isIP(host) === 6 ? `[${host}]` : host;

  return `tcp://${hostText}:${port}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function isNatsEndpoint(endpoint: string): boolean {
  return endpoint.startsWith('nats://');
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

function parseEndpoints(value: string, previous: string[] = []): string[] {
  const endpoints = value
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint.length > 0);
  if (endpoints.length === 0) {
    throw new InvalidArgumentError(
      'Expected tcp://HOST:PORT, ipc://PATH or nats://HOST:PORT.',
    );
  }

  return [...previous, ...endpoints];
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
