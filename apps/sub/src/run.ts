import {
  CurveConfigError,
  EndpointError,
  InvalidEndpointError,
  subscribe,
  type Notice,
  type Subscription,
} from '@zpub/client';
import { InvalidTopicError } from '@zpub/protocol';
import { createHandshakeWatch } from './curve.js';
import { createEventFilter } from './filters.js';
import { NoticeLog, PREFIX, formatReady, printable } from './notices.js';
import { HELP_HINT, USAGE_EXIT_CODE, type Config } from './options.js';
import { createSink, type EventSink } from './sinks.js';

export const RUNTIME_ERROR_EXIT_CODE = 1;
export const TIMEOUT_EXIT_CODE = 124;

/** Exit codes for the signals zsub stops on: 128 plus the signal number. */
export const SIGINT_EXIT_CODE = 130;
export const SIGTERM_EXIT_CODE = 143;

/**
 * How long zsub waits for output to drain after a signal, in milliseconds,
 * so that it exits well within 300 ms of Ctrl-C even when stdout is slow.
 */
const SIGNAL_FLUSH_LIMIT_MS = 100;

/**
 * Subscribes, handles events until --count, --expect, --timeout or a signal
 * ends the run, and returns the exit code. Output is flushed before it
 * returns.
 */
export async function run(config: Config): Promise<number> {
  const log = new NoticeLog(writeStderrLine, config.quiet);
  const pending = new PendingEndpoints(config.endpoints);
  // The sink is created after the subscription opened, so that no stats
  // view is drawn for an invalid endpoint. Notices reach the sink from then.
  const sinkHolder: { sink?: EventSink } = {};
  // A notice can end the run: a handshake that keeps failing, or a bad
  // message with --strict. `failure` resolves with the line to print.
  let failRun: (line: string) => void = () => undefined;
  const failure = new Promise<string>((resolve) => (failRun = resolve));
  const watchHandshake = createHandshakeWatch(failRun);
  let subscription: Subscription;
  try {
    subscription = openSubscription(config, log, (notice) => {
      pending.notice(notice);
      sinkHolder.sink?.notice?.(notice);
      watchHandshake(notice);
      if (config.strict && notice.kind === 'invalid') {
        failRun(
          `${PREFIX}stopped at the first message that could not be decoded (--strict)`,
        );
      }
    });
  } catch (error) {
    const startError = describeStartError(error);
    if (startError === undefined) {
      throw error;
    }
    log.error(startError.line);
    if (startError.exitCode === USAGE_EXIT_CODE) {
      log.error(HELP_HINT);
    }
    await flush(process.stderr);

    return startError.exitCode;
  }

  const sink = createSink(config, log);
  sinkHolder.sink = sink;
  const outcome = await runSubscription(
    subscription,
    config,
    sink,
    pending,
    failure,
  );
  if (outcome.exitCode === 0) {
    await sink.finish();
  } else {
    await sink.stop();
  }
  await subscription.close();
  if (outcome.message !== undefined) {
    log.error(outcome.message);
  }
  log.writePendingLines();
  const limitMs = outcome.endedBySignal ? SIGNAL_FLUSH_LIMIT_MS : undefined;
  await Promise.all([
    flush(process.stdout, limitMs),
    flush(process.stderr, limitMs),
  ]);

  return outcome.exitCode;
}

function openSubscription(
  config: Config,
  log: NoticeLog,
  onNotice: (notice: Notice) => void,
): Subscription {
  const inproc = config.endpoints.find((endpoint) =>
    endpoint.startsWith('inproc://'),
  );
  if (inproc !== undefined) {
    throw new InvalidEndpointError(
      inproc,
      'an inproc endpoint reaches only sockets inside the same process',
    );
  }

  const subscription = subscribe({
    endpoint: config.endpoints,
    topics: config.topics,
    maxMessageBytes: config.maxMessageBytes,
    curve: config.curve,
    ...(config.jetstream === undefined ? {} : { jetstream: config.jetstream }),
    onNotice: (notice) => {
      log.notice(notice);
      onNotice(notice);
    },
  });
  // `ready` rejects when the run ends before the subscription is live, as
  // when replayed events reach --count first; there is no ready line then.
  subscription.ready.then(
    (readiness) => {
      log.ready(formatReady(readiness, config.topics));
    },
    () => undefined,
  );

  return subscription;
}

/** Follows which endpoints have not been live yet, for the timeout message. */
class PendingEndpoints {
  #pending: readonly string[];

  constructor(endpoints: readonly string[]) {
    this.#pending = endpoints;
  }

  get endpoints(): readonly string[] {
    return this.#pending;
  }

  notice(notice: Notice): void {
    if (notice.kind === 'live') {
      this.#pending = notice.pending;
    } else if (notice.kind === 'ready') {
      this.#pending = [];
    }
  }
}

/**
 * Error codes of a connect that libzmq rejects because of the address
 * itself, such as an ipc path longer than the system allows.
 */
const ADDRESS_ERROR_CODES: ReadonlySet<string> = new Set([
  'EINVAL',
  'ENAMETOOLONG',
  'ENOCOMPATPROTO',
  'EPROTONOSUPPORT',
]);

interface StartError {
  line: string;
  /** The exit code: USAGE_EXIT_CODE when an option's value caused the error. */
  exitCode: number;
}

/**
 * Returns the message and exit code for an error of subscribe, or undefined
 * for any other error. subscribe checks the endpoints and topics,
 * so most of its errors are usage errors.
 */
function describeStartError(error: unknown): StartError | undefined {
  if (error instanceof InvalidEndpointError) {
    return {
      line: `${PREFIX}${printable(error.message)}. Pass --endpoint tcp://HOST:PORT, ipc://PATH or nats://HOST:PORT, or use --host and --port.`,
      exitCode: USAGE_EXIT_CODE,
    };
  }
  if (error instanceof EndpointError) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    const isAddressError =
      typeof code === 'string' && ADDRESS_ERROR_CODES.has(code);
    return {
      line: `${PREFIX}${printable(error.message)}. Check the address or path in the endpoint.`,
      exitCode: isAddressError ? USAGE_EXIT_CODE : RUNTIME_ERROR_EXIT_CODE,
    };
  }
  if (error instanceof InvalidTopicError) {
    return {
      line: `${PREFIX}${printable(error.message)}`,
      exitCode: USAGE_EXIT_CODE,
    };
  }
  // The options were checked already, so what is left is a build of zeromq
  // without CURVE support.
  if (error instanceof CurveConfigError) {
    return {
      line: `${PREFIX}${printable(error.message)}`,
      exitCode: RUNTIME_ERROR_EXIT_CODE,
    };
  }

  return undefined;
}

interface Outcome {
  exitCode: number;
  /** True when a signal ended the run, which leaves little time to flush. */
  endedBySignal: boolean;
  /** The error line to print once the sink has stopped. */
  message?: string;
}

/**
 * Hands events that pass the filters to the sink until the first of:
 * --count events, an event that matches --expect, the timeout, SIGINT or
 * SIGTERM, a `failure`, or the end of the subscription. Closing the subscription and
 * the sink is left to the caller.
 */
async function runSubscription(
  subscription: Subscription,
  config: Config,
  sink: EventSink,
  pending: PendingEndpoints,
  failure: Promise<string>,
): Promise<Outcome> {
  const passes = createEventFilter(config.filters);
  const { expectation } = config;
  /** Events that passed the filters. */
  let received = 0;
  /** Events the sink handled, which --count counts. */
  let handled = 0;
  let isFinished = false;
  let resolveFinished: (outcome: Outcome) => void = () => undefined;
  const finished = new Promise<Outcome>(
    (resolve) => (resolveFinished = resolve),
  );
  const finish = (outcome: Outcome): void => {
    isFinished = true;
    resolveFinished(outcome);
  };

  const onInterrupt = (): void => {
    finish({ exitCode: SIGINT_EXIT_CODE, endedBySignal: true });
  };
  const onTerminate = (): void => {
    finish({ exitCode: SIGTERM_EXIT_CODE, endedBySignal: true });
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onTerminate);
  void failure.then((message) => {
    finish({
      exitCode: RUNTIME_ERROR_EXIT_CODE,
      endedBySignal: false,
      message,
    });
  });

  let timer: NodeJS.Timeout | undefined;
  if (config.timeoutSeconds !== undefined) {
    const seconds = config.timeoutSeconds;
    timer = setTimeout(() => {
      const message =
        expectation === undefined
          ? `${PREFIX}timed out after ${seconds} s, received ${describeCount(handled, config.count)}`
          : `${PREFIX}timed out after ${seconds} s, no event matched --expect ${JSON.stringify(printable(expectation.text))} (${received} events received)`;
      finish({
        exitCode: TIMEOUT_EXIT_CODE,
        endedBySignal: false,
        message: `${message}${describePending(pending.endpoints, config.endpoints)}`,
      });
    }, seconds * 1000);
  }

  const handleEvents = async (): Promise<Outcome> => {
    for await (const event of subscription) {
      if (!passes(event)) {
        continue;
      }
      received++;
      if (expectation !== undefined && !expectation.matches(event)) {
        continue;
      }
      if (await sink.handle(event)) {
        handled++;
      }
      if (
        expectation !== undefined ||
        (config.count !== undefined && handled >= config.count)
      ) {
        return { exitCode: 0, endedBySignal: false };
      }
    }
    // The iteration also ends when another way of finishing closed the
    // subscription, and that outcome has been settled already.
    return {
      exitCode: RUNTIME_ERROR_EXIT_CODE,
      endedBySignal: false,
      message: isFinished
        ? undefined
        : `${PREFIX}the subscription ended after a receive error`,
    };
  };
  handleEvents().then(finish, (error: unknown) => {
    finish({
      exitCode: RUNTIME_ERROR_EXIT_CODE,
      endedBySignal: false,
      message: `${PREFIX}error: ${printable(String(error))}`,
    });
  });

  const outcome = await finished;
  clearTimeout(timer);
  process.off('SIGINT', onInterrupt);
  process.off('SIGTERM', onTerminate);

  return outcome;
}

function describeCount(events: number, count: number | undefined): string {
  return count === undefined
    ? `${events} events`
    : `${events} of ${count} events`;
}

/** Names the endpoints not live yet, when there are several endpoints. */
function describePending(
  pending: readonly string[],
  endpoints: readonly string[],
): string {
  if (endpoints.length < 2 || pending.length === 0) {
    return '';
  }

  return `; not live: ${pending.map(printable).join(', ')}`;
}

function writeStderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Resolves when everything written to the stream so far has been handed to
 * the system, or after `limitMs`. Writes to a pipe are asynchronous on POSIX,
 * and process.exit would drop what is still queued.
 */
export function flush(
  stream: NodeJS.WritableStream,
  limitMs?: number,
): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (limitMs !== undefined) {
      timer = setTimeout(done, limitMs);
    }
    // Writes complete in order, so the callback of an empty write runs once
    // every earlier write is done. It also runs, with an error, on a
    // destroyed stream.
    stream.write('', () => done());
  });
}
