import {
  EndpointError,
  InvalidEndpointError,
  subscribe,
  type Subscription,
} from '@zpub/client';
import { InvalidTopicError } from '@zpub/protocol';
import type { Config } from './options.js';
import { NoticeLog, PREFIX, formatReady, printable } from './notices.js';
import { colorLevel, createFormatter } from './output.js';

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
 * Subscribes, prints events until --count, --timeout or a signal ends the
 * run, and returns the exit code. Output is flushed before it returns.
 */
export async function run(config: Config): Promise<number> {
  const log = new NoticeLog(writeStderrLine, config.quiet);
  let subscription: Subscription;
  try {
    subscription = openSubscription(config, log);
  } catch (error) {
    const message = describeStartError(error);
    if (message === undefined) {
      throw error;
    }
    log.error(message);
    await flush(process.stderr);

    return RUNTIME_ERROR_EXIT_CODE;
  }

  const outcome = await runSubscription(subscription, config, log);
  await subscription.close();
  log.writePendingLines();
  const limitMs = outcome.endedBySignal ? SIGNAL_FLUSH_LIMIT_MS : undefined;
  await Promise.all([
    flush(process.stdout, limitMs),
    flush(process.stderr, limitMs),
  ]);

  return outcome.exitCode;
}

function openSubscription(config: Config, log: NoticeLog): Subscription {
  if (config.endpoint.startsWith('inproc://')) {
    throw new InvalidEndpointError(
      config.endpoint,
      'an inproc endpoint reaches only sockets inside the same process',
    );
  }

  const subscription = subscribe({
    endpoint: config.endpoint,
    topics: config.topics,
    maxMessageBytes: config.maxMessageBytes,
    onNotice: (notice) => log.notice(notice),
  });
  void subscription.ready.then(({ endpoint, confirmed }) => {
    log.ready(formatReady(endpoint, confirmed, config.topics));
  });

  return subscription;
}

/** Returns the one-line message for an error of subscribe, or undefined. */
function describeStartError(error: unknown): string | undefined {
  if (error instanceof InvalidEndpointError) {
    return `${PREFIX}${printable(error.message)}. Pass --endpoint tcp://HOST:PORT or ipc://PATH, or use --host and --port.`;
  }
  if (error instanceof EndpointError) {
    return `${PREFIX}${printable(error.message)}. Check the address or path in the endpoint.`;
  }
  if (error instanceof InvalidTopicError) {
    return `${PREFIX}${printable(error.message)}`;
  }

  return undefined;
}

interface Outcome {
  exitCode: number;
  /** True when a signal ended the run, which leaves little time to flush. */
  endedBySignal: boolean;
}

/**
 * Prints events until the first of: --count events, the timeout, SIGINT or
 * SIGTERM, or the end of the subscription. Closing the subscription is left
 * to the caller.
 */
async function runSubscription(
  subscription: Subscription,
  config: Config,
  log: NoticeLog,
): Promise<Outcome> {
  const format = createFormatter(config.output, colorLevel(config.color));
  let received = 0;
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

  let timer: NodeJS.Timeout | undefined;
  if (config.timeoutSeconds !== undefined) {
    const seconds = config.timeoutSeconds;
    timer = setTimeout(() => {
      const events =
        config.count === undefined
          ? `${received} events`
          : `${received} of ${config.count} events`;
      log.error(`${PREFIX}timed out after ${seconds} s, received ${events}`);
      finish({ exitCode: TIMEOUT_EXIT_CODE, endedBySignal: false });
    }, seconds * 1000);
  }

  const printEvents = async (): Promise<Outcome> => {
    for await (const event of subscription) {
      if (!process.stdout.write(`${format(event)}\n`)) {
        await drained(process.stdout);
      }
      received++;
      if (config.count !== undefined && received >= config.count) {
        return { exitCode: 0, endedBySignal: false };
      }
    }
    // The iteration also ends when another way of finishing closed the
    // subscription, and that outcome has been settled already.
    if (!isFinished) {
      log.error(`${PREFIX}the subscription ended after a receive error`);
    }

    return { exitCode: RUNTIME_ERROR_EXIT_CODE, endedBySignal: false };
  };
  printEvents().then(finish, (error: unknown) => {
    log.error(`${PREFIX}error: ${printable(String(error))}`);
    finish({ exitCode: RUNTIME_ERROR_EXIT_CODE, endedBySignal: false });
  });

  const outcome = await finished;
  clearTimeout(timer);
  process.off('SIGINT', onInterrupt);
  process.off('SIGTERM', onTerminate);

  return outcome;
}

function writeStderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Resolves when the stream can take more data, or when it fails or closes. */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
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
