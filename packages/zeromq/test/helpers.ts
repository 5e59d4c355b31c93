import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SubscriberStatus } from '@zpub/protocol';

/** How long a helper waits for a status or a message before it fails. */
export const WAIT_TIMEOUT_MS = 5000;

/** Returns an ipc endpoint on a new path under os.tmpdir(). */
export function ipcEndpoint(): string {
  const name = `zpub-${process.pid}-${randomBytes(6).toString('hex')}.sock`;

  return `ipc://${join(tmpdir(), name)}`;
}

/** A status with the time it was reported, from performance.now(). */
export interface TimedStatus {
  status: SubscriberStatus;
  at: number;
}

/**
 * Records every status a subscriber transport reports. {@link next} reads
 * the log in order, so a test can wait for `live`, then `disconnected`, then
 * `live` again without missing a status reported before it started waiting.
 */
export class StatusLog {
  readonly entries: TimedStatus[] = [];
  #cursor = 0;
  #waiter: (() => void) | undefined;

  readonly listener = (status: SubscriberStatus): void => {
    this.entries.push({ status, at: performance.now() });
    this.#waiter?.();
  };

  /**
   * Resolves with the next status of `kind` after the one the previous call
   * returned, or rejects after `timeoutMs`.
   */
  async next(
    kind: SubscriberStatus['kind'],
    timeoutMs = WAIT_TIMEOUT_MS,
  ): Promise<TimedStatus> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const index = this.entries.findIndex(
        (entry, position) =>
          position >= this.#cursor && entry.status.kind === kind,
      );
      const entry = this.entries[index];
      if (entry !== undefined) {
        this.#cursor = index + 1;
        return entry;
      }

      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const seen = this.entries.map((entry) => entry.status.kind).join(', ');
        throw new Error(
          `no "${kind}" status within ${timeoutMs} ms; statuses so far: ${seen || 'none'}`,
        );
      }
      await this.#reported(remaining);
    }
  }

  /** Resolves at the next reported status or after `timeoutMs`. */
  #reported(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiter = finish;
    });
  }
}

/**
 * Reads `count` messages from an async iterator of frames, or rejects after
 * `timeoutMs` with the number that arrived.
 */
export async function takeMessages(
  iterator: AsyncIterator<Uint8Array[]>,
  count: number,
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<Uint8Array[][]> {
  const messages: Uint8Array[][] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`received ${messages.length} of ${count} messages`));
    }, timeoutMs);
  });
  try {
    while (messages.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done === true) {
        throw new Error('the subscriber ended');
      }
      messages.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }

  return messages;
}

/** Decodes both frames of a message as UTF-8 text. */
export function asText(frames: readonly Uint8Array[]): string[] {
  return frames.map((frame) => Buffer.from(frame).toString('utf8'));
}
