import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  addJetStreamOptions,
  resolveJetStream,
} from '../src/jetstream-options.js';
import { runZsub } from './helpers.js';

const HELP_POINTER = "Run 'zsub --help' for usage.";
const NATS = 'nats://127.0.0.1:4222';

/** Parses JetStream options alone and resolves them against `endpoint`. */
function resolve(args: string[], endpoint = NATS): unknown {
  const program = addJetStreamOptions(new Command()).exitOverride();
  program.parse(args, { from: 'user' });

  return resolveJetStream(
    program,
    [endpoint],
    (message) => {
      throw new Error(message);
    },
    new Date('2025-01-31T10:00:00Z'),
  );
}

describe('JetStream options', () => {
  it('returns nothing without them', () => {
    expect(resolve([])).toBeUndefined();
  });

  it('reads --since as a duration before now', () => {
    expect(resolve(['--since', '5m'])).toEqual({
      stream: 'ZPUB',
      since: new Date('2025-01-31T09:55:00Z'),
    });
  });

  it('reads --since as an ISO 8601 time', () => {
    expect(resolve(['--since', '2025-01-30T08:00:00+01:00'])).toEqual({
      stream: 'ZPUB',
      since: new Date('2025-01-30T07:00:00Z'),
    });
  });

  it('reads --last, --group and --stream', () => {
    expect(
      resolve(['--last', '10', '--group', 'workers', '--stream', 'EVENTS']),
    ).toEqual({ stream: 'EVENTS', last: 10, group: 'workers' });
  });

  it('rejects them on a ZeroMQ endpoint', () => {
    expect(() => resolve(['--durable', 'd'], 'tcp://127.0.0.1:5555')).toThrow(
      '--durable needs a JetStream stream: pass --endpoint nats://HOST:PORT',
    );
  });

  it('rejects --since with --last', () => {
    expect(() => resolve(['--since', '1h', '--last', '3'])).toThrow(
      '--since cannot be combined with --last',
    );
  });

  it('rejects --durable with --group', () => {
    expect(() => resolve(['--durable', 'a', '--group', 'b'])).toThrow(
      '--durable cannot be combined with --group',
    );
  });
});

describe('JetStream options on the command line', () => {
  it.each([
    [
      ['--since', 'yesterday'],
      "zsub: option '--since <time>' argument 'yesterday' is invalid. Expected a duration such as 30s, 5m, 2h or 1d, or an ISO 8601 time with a zone such as 2025-01-31T09:00:00Z.",
    ],
    [
      ['--last', '0'],
      "zsub: option '--last <events>' argument '0' is invalid. Expected an integer from 1 to 999999999.",
    ],
    [
      ['--durable', 'a.b'],
      "zsub: option '--durable <name>' argument 'a.b' is invalid. Invalid durable consumer name \"a.b\": use 1 to 64 letters, digits, - or _.",
    ],
    [
      ['--last', '5'],
      'zsub: --last needs a JetStream stream: pass --endpoint nats://HOST:PORT',
    ],
  ])('exits 2 for %j', async (args, message) => {
    const result = await runZsub(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([message, HELP_POINTER]);
  });
});
