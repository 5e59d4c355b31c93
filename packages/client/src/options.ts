import { inspect } from 'node:util';
import type { PublisherOptions } from './publisher.js';

const MODES: readonly string[] = ['bind', 'connect'];

const CALLBACKS = [
  'onConnectionChange',
  'onSendError',
  'onHandshakeFailed',
] as const;

/**
 * Throws for a {@link PublisherOptions} value that would otherwise fail
 * later or be ignored, with the option, the value and what it accepts.
 * Options whose values a transport checks, such as `curve` and the
 * members of `stream`, are left to it.
 */
export function checkPublisherOptions(options: PublisherOptions): void {
  checkPositiveInteger('maxQueue', options.maxQueue);
  checkPositiveInteger('lingerMs', options.lingerMs, true);
  checkPositiveInteger('flushDelayMs', options.flushDelayMs, true);
  checkPositiveInteger('ackTimeoutMs', options.ackTimeoutMs);
  checkEndpoint(options.endpoint);
  checkMode(options.mode);
  checkSource(options.source);
  checkStream(options.stream);
  for (const name of CALLBACKS) {
    checkFunction(name, options[name]);
  }
}

/** Formats an option's value for an error message. */
function describeValue(value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity });
}

function checkPositiveInteger(
  name: string,
  value: number | undefined,
  allowZero = false,
): void {
  if (value === undefined) {
    return;
  }
  const minimum = allowZero ? 0 : 1;
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(
      `${name} must be an integer of at least ${minimum}, got ${String(value)}`,
    );
  }
}

function checkEndpoint(endpoint: unknown): void {
  if (endpoint !== undefined && typeof endpoint !== 'string') {
    throw new TypeError(
      `endpoint must be a string such as 'tcp://127.0.0.1:5555' or 'nats://127.0.0.1:4222', got ${describeValue(endpoint)}`,
    );
  }
}

function checkMode(mode: unknown): void {
  if (mode !== undefined && !MODES.includes(mode as string)) {
    throw new TypeError(
      `mode must be 'bind' or 'connect', got ${describeValue(mode)}`,
    );
  }
}

/**
 * Rejects a blank source, because subscribers reject every event whose
 * `source` is empty, and one of only whitespace names no publisher.
 */
function checkSource(source: unknown): void {
  if (source === undefined) {
    return;
  }
  if (typeof source !== 'string' || source.trim() === '') {
    throw new TypeError(
      `source must be a non-blank string such as 'zpub://HOSTNAME/orders', got ${describeValue(source)}. Leave it out for the default.`,
    );
  }
}

function checkStream(stream: unknown): void {
  if (
    stream !== undefined &&
    (typeof stream !== 'object' || stream === null || Array.isArray(stream))
  ) {
    throw new TypeError(
      `stream must be an object such as { name: 'ZPUB', subjects: ['http.>'] }, got ${describeValue(stream)}`,
    );
  }
}

function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(
      `${name} must be a function, got ${describeValue(value)}`,
    );
  }
}
