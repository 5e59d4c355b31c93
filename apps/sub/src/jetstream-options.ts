import {
  DEFAULT_STREAM_NAME,
  StreamConfigError,
  assertJetStreamName,
  type NatsJetStreamOptions,
} from '@zpub/client';
import { parseDuration } from '@zpub/protocol';
import { InvalidArgumentError, Option, type Command } from 'commander';

/** The options of this module as commander parsed them. */
interface JetStreamFlags {
  stream: string;
  since?: Date | { ago: number };
  last?: number;
  durable?: string;
  group?: string;
}

/** Adds the JetStream options: --stream, --since, --last, --durable, --group. */
export function addJetStreamOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--stream <name>',
        'JetStream stream to read with the options below (nats:// only)',
      )
        .env('ZSUB_STREAM')
        .default(DEFAULT_STREAM_NAME)
        .argParser((value) => parseName('stream', value)),
    )
    .addOption(
      new Option(
        '--since <time>',
        'replay stored events from this long ago (30s, 5m, 2h, 1d) or from an ISO 8601 time, then go on live',
      )
        .env('ZSUB_SINCE')
        .default(undefined, 'live events only')
        .argParser(parseSince),
    )
    .addOption(
      new Option(
        '--last <events>',
        'replay the last this many stored events that match the topics, then go on live',
      )
        .env('ZSUB_LAST')
        .default(undefined, 'live events only')
        .argParser(parseCount),
    )
    .addOption(
      new Option(
        '--durable <name>',
        'keep a position on the server under this name and resume from it after a restart',
      )
        .env('ZSUB_DURABLE')
        .default(undefined, 'none, no position is kept')
        .argParser((value) => parseName('durable consumer', value)),
    )
    .addOption(
      new Option(
        '--group <name>',
        'share the events with every zsub of this group name: each event goes to one of them',
      )
        .env('ZSUB_GROUP')
        .default(undefined, 'none, every event to this zsub')
        .argParser((value) => parseName('group', value)),
    );
}

/**
 * Returns the JetStream options of the command line, or undefined when none
 * is given. Calls `usageError` for conflicting options and for ZeroMQ
 * endpoints.
 */
export function resolveJetStream(
  program: Command,
  endpoints: readonly string[],
  usageError: (message: string) => never,
  now: Date = new Date(),
): NatsJetStreamOptions | undefined {
  const flags = program.opts<JetStreamFlags>();
  const flagsGiven = (['stream', 'since', 'last', 'durable', 'group'] as const)
    .filter((name) => {
      const source = program.getOptionValueSource(name);
      return source === 'cli' || source === 'env';
    })
    .map((name) => `--${name}`);
  if (flagsGiven.length === 0) {
    return undefined;
  }
  if (!endpoints.every((endpoint) => endpoint.startsWith('nats://'))) {
    usageError(
      `${flagsGiven.join(', ')} ${flagsGiven.length === 1 ? 'needs' : 'need'} a JetStream stream: pass --endpoint nats://HOST:PORT`,
    );
  }
  if (flags.since !== undefined && flags.last !== undefined) {
    usageError('--since cannot be combined with --last');
  }
  if (flags.durable !== undefined && flags.group !== undefined) {
    usageError('--durable cannot be combined with --group');
  }

  const since =
    flags.since === undefined || flags.since instanceof Date
      ? flags.since
      : new Date(now.getTime() - flags.since.ago);

  return {
    stream: flags.stream,
    ...(since === undefined ? {} : { since }),
    ...(flags.last === undefined ? {} : { last: flags.last }),
    ...(flags.durable === undefined ? {} : { durable: flags.durable }),
    ...(flags.group === undefined ? {} : { group: flags.group }),
  };
}

function parseName(kind: string, value: string): string {
  try {
    assertJetStreamName(kind, value);
  } catch (error) {
    if (error instanceof StreamConfigError) {
      throw new InvalidArgumentError(`${capitalize(error.message)}.`);
    }
    throw error;
  }

  return value;
}

const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads a duration as time before the start, resolved once the command
 * line is complete, or an ISO 8601 time with a zone.
 */
function parseSince(value: string): Date | { ago: number } {
  const ago = parseDuration(value);
  if (ago !== undefined) {
    return { ago };
  }
  if (ISO_TIME.test(value.trim())) {
    const time = new Date(value.trim());
    if (!Number.isNaN(time.getTime())) {
      return time;
    }
  }

  throw new InvalidArgumentError(
    'Expected a duration such as 30s, 5m, 2h or 1d, or an ISO 8601 time with a zone such as 2025-01-31T09:00:00Z.',
  );
}

function parseCount(value: string): number {
  const count = /^[0-9]{1,9}$/.test(value) ? Number(value) : 0;
  if (count < 1) {
    throw new InvalidArgumentError('Expected an integer from 1 to 999999999.');
  }

  return count;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
