import { subscribe, type Notice, type Subscription } from '@zpub/client';
import type { ZpubEvent } from '@zpub/protocol';

export interface Collector {
  subscription: Subscription;
  notices: Notice[];
  /** Resolves with the first `count` events, or rejects after `timeoutMs`. */
  take(count: number, timeoutMs?: number): Promise<ZpubEvent[]>;
}

/** Subscribes, waits until the subscription is live, and collects events. */
export async function collect(
  endpoint: string,
  topics: string[] = [],
): Promise<Collector> {
  const notices: Notice[] = [];
  const subscription = subscribe({
    endpoint,
    topics,
    onNotice: (notice) => notices.push(notice),
  });
  await subscription.ready;
  const iterator = subscription[Symbol.asyncIterator]();

  return {
    subscription,
    notices,
    async take(count, timeoutMs = 5000) {
      const events: ZpubEvent[] = [];
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
            throw new Error('subscription ended');
          }
          events.push(next.value);
        }
      } finally {
        clearTimeout(timer);
      }

      return events;
    },
  };
}
