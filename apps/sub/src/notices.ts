import type { Notice } from '@zpub/client';

/** Prefix of every line zsub writes to stderr. */
export const PREFIX = 'zsub: ';

/**
 * The maximum number of lines held back before the ready line. Lines past it
 * are only counted, and the count is printed.
 */
export const MAX_PENDING_LINES = 100;

const UNCONFIRMED =
  ' (publisher did not confirm; assumed live after the handshake)';

/** Returns the ready line, without the newline. */
export function formatReady(
  endpoint: string,
  confirmed: boolean,
  topics: readonly string[],
): string {
  const filters = topics.filter((topic) => topic !== '');
  const topicText =
    filters.length === 0 || filters.length < topics.length
      ? 'all'
      : filters.join(', ');
  const suffix = confirmed ? '' : UNCONFIRMED;

  return `${PREFIX}ready, subscribed to ${printable(endpoint)} (topics: ${topicText})${suffix}`;
}

/**
 * Returns the stderr line of a notice, without the newline, or undefined for
 * the ready notice, which zsub prints from {@link formatReady}.
 */
export function formatNotice(notice: Notice): string | undefined {
  switch (notice.kind) {
    case 'ready':
      return undefined;
    case 'reconnected': {
      const suffix = notice.confirmed ? '' : UNCONFIRMED;
      return `${PREFIX}reconnected to ${printable(notice.endpoint)}${suffix}`;
    }
    case 'disconnected':
      return `${PREFIX}disconnected from ${printable(notice.endpoint)}, reconnecting`;
    case 'invalid': {
      const { topic, size, reason } = notice.error;
      const topicText = topic === undefined ? '?' : JSON.stringify(topic);
      return `${PREFIX}skipped message on topic ${printable(topicText)} (${size} bytes): ${printable(reason)}`;
    }
    case 'gap': {
      const events = notice.missed === 1 ? 'event' : 'events';
      const last = notice.received - 1;
      const range =
        last === notice.expected
          ? `sequence ${notice.expected}`
          : `sequence ${notice.expected} to ${last}`;
      return `${PREFIX}missed ${notice.missed} ${events} on topic ${JSON.stringify(notice.topic)} from publisher ${printable(notice.instance)} (${range})`;
    }
    case 'restart':
      return `${PREFIX}publisher ${printable(notice.source)} restarted (instance ${printable(notice.previous)} -> ${printable(notice.current)}); sequences start again`;
    case 'out-of-order':
      return `${PREFIX}event on topic ${JSON.stringify(notice.topic)} from publisher ${printable(notice.instance)} is out of order: sequence ${notice.received} arrived after sequence ${notice.last}`;
    case 'warning':
      return `${PREFIX}warning: ${printable(notice.message)}`;
  }
}

/** Returns true for notices that --quiet still prints. */
export function isWarning(notice: Notice): boolean {
  return notice.kind === 'warning';
}

/**
 * Escapes control characters, which can come from the network in topics,
 * reasons and attributes, so that each notice stays on one line and cannot
 * drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- finding them is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (character) =>
      `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Writes zsub's stderr lines and keeps the ready line first: every line that
 * comes earlier is held until {@link ready} and written after it, or before
 * the error that ends a run that never became ready.
 */
export class NoticeLog {
  readonly #write: (line: string) => void;
  readonly #quiet: boolean;
  /** Lines waiting for the ready line, or undefined once they are written. */
  #pendingLines: string[] | undefined = [];
  #droppedCount = 0;

  constructor(write: (line: string) => void, quiet: boolean) {
    this.#write = write;
    this.#quiet = quiet;
  }

  /**
   * Writes the ready line, unless quiet, then every line held until now. Once
   * other lines are out, as at the end of a run, the ready line is dropped,
   * because it would no longer come first.
   */
  ready(line: string): void {
    if (this.#pendingLines === undefined) {
      return;
    }
    if (!this.#quiet) {
      this.#write(line);
    }
    this.writePendingLines();
  }

  /** Reports a notice of the subscription. */
  notice(notice: Notice): void {
    if (this.#quiet && !isWarning(notice)) {
      return;
    }
    // No event is expected before the subscription is live, so a connection
    // lost then loses none, and printed after the ready line it would read as
    // a new loss.
    if (this.#pendingLines !== undefined && notice.kind === 'disconnected') {
      return;
    }
    const line = formatNotice(notice);
    if (line !== undefined) {
      this.#add(line);
    }
  }

  /** Writes an error at once, after any held lines, even when quiet. */
  error(line: string): void {
    this.writePendingLines();
    this.#write(line);
  }

  #add(line: string): void {
    if (this.#pendingLines === undefined) {
      this.#write(line);
    } else if (this.#pendingLines.length < MAX_PENDING_LINES) {
      this.#pendingLines.push(line);
    } else {
      this.#droppedCount++;
    }
  }

  /**
   * Writes the held lines, for a run that ends without a ready line, as when
   * --count events arrive before the publisher is assumed live.
   */
  writePendingLines(): void {
    const pending = this.#pendingLines;
    if (pending === undefined) {
      return;
    }
    this.#pendingLines = undefined;
    for (const line of pending) {
      this.#write(line);
    }
    if (this.#droppedCount > 0) {
      this.#write(
        `${PREFIX}${this.#droppedCount} more notices arrived before the subscription was ready and were not printed`,
      );
    }
  }
}
