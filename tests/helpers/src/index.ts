import { onTestFinished } from 'vitest';

/**
 * How long a helper waits for events or notices before it fails, in
 * milliseconds.
 */
export const WAIT_TIMEOUT_MS = 5000;

/** The parts of a subscription that {@link collect} uses. */
export interface CollectableSubscription<Event> extends AsyncIterable<Event> {
  readonly ready: Promise<unknown>;
  close(): Promise<void>;
}

/** The options of a subscribe function that reports notices. */
interface NoticeOptions {
  onNotice?: (notice: never) => void;
}

type EventOf<Subscription> =
  Subscription extends AsyncIterable<infer Event> ? Event : never;

type NoticeOf<Options> = Options extends {
  onNotice?: (notice: infer Notice extends { kind: string }) => void;
}
  ? Notice
  : never;

/** A live subscription whose events and notices a test reads. */
export interface Collector<
  Subscription,
  Event,
  Notice extends { kind: string },
> {
  subscription: Subscription;
  /** Every notice so far, in order of arrival. */
  notices: Notice[];
  /** Resolves with the next `count` events, or rejects after `timeoutMs`. */
  take(count: number, timeoutMs?: number): Promise<Event[]>;
  /**
   * Resolves with the next notice of `kind` after the one the previous call
   * returned, or rejects after `timeoutMs`.
   */
  nextNotice<Kind extends Notice['kind']>(
    kind: Kind,
    timeoutMs?: number,
  ): Promise<Extract<Notice, { kind: Kind }>>;
}

/** The collector that {@link collect} returns for a subscribe function. */
export type CollectorOf<
  Subscribe extends (options: never) => CollectableSubscription<unknown>,
> = Collector<
  ReturnType<Subscribe>,
  EventOf<ReturnType<Subscribe>>,
  NoticeOf<Parameters<Subscribe>[0]>
>;

/**
 * Subscribes with `subscribe`, waits until the subscription is live, and
 * collects its events and notices. The subscription is closed when the test
 * finishes. `subscribe` is a parameter so that the client's own tests can
 * pass the function from its source rather than from its build.
 */
export async function collect<
  Options extends NoticeOptions | undefined,
  Subscription extends CollectableSubscription<unknown>,
>(
  subscribe: (options: Options) => Subscription,
  options: Omit<NonNullable<Options>, 'onNotice'>,
): Promise<Collector<Subscription, EventOf<Subscription>, NoticeOf<Options>>> {
  type Event = EventOf<Subscription>;
  type Notice = NoticeOf<Options>;
  const notices: Notice[] = [];
  let noticeCursor = 0;
  let wakeNoticeWaiter: (() => void) | undefined;
  const subscription = subscribe({
    ...options,
    onNotice: (notice: Notice) => {
      notices.push(notice);
      wakeNoticeWaiter?.();
    },
  } as unknown as Options);
  onTestFinished(() => subscription.close());
  await withTimeout(subscription.ready, WAIT_TIMEOUT_MS, 'subscription.ready');
  const iterator = (subscription as AsyncIterable<Event>)[
    Symbol.asyncIterator
  ]();

  return {
    subscription,
    notices,
    async take(count, timeoutMs = WAIT_TIMEOUT_MS) {
      const events: Event[] = [];
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`received ${events.length} of ${count} events`));
        }, timeoutMs);
      });
      try {
        while (events.length < count) {
          const next = await Promise.race([iterator.next(), timeout]);
          if (next.done === true) {
            throw new Error('the subscription ended');
          }
          events.push(next.value);
        }
      } finally {
        clearTimeout(timer);
      }

      return events;
    },
    async nextNotice(kind, timeoutMs = WAIT_TIMEOUT_MS) {
      const deadline = performance.now() + timeoutMs;
      while (true) {
        const index = notices.findIndex(
          (notice, position) =>
            position >= noticeCursor && notice.kind === kind,
        );
        if (index !== -1) {
          noticeCursor = index + 1;
          return notices[index] as Extract<Notice, { kind: typeof kind }>;
        }

        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          const seen = notices.map((notice) => notice.kind).join(', ');
          throw new Error(
            `no "${kind}" notice within ${timeoutMs} ms; notices so far: ${seen || 'none'}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wakeNoticeWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

/** Resolves as `promise` does, or rejects after `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  description: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(`${description} did not resolve within ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every 10 ms until it holds, and fails after `limitMs`
 * with `description` in the message.
 */
export async function waitUntil(
  description: string,
  condition: () => boolean,
  limitMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
