import { onTestFinished } from 'vitest';
import { Publisher, type PublisherOptions } from '../src/index.js';
import { NATS_ENDPOINT } from '../../nats/test/nats-server.js';

export {
  NATS_ENDPOINT,
  OwnNatsServer,
  testStream,
  waitUntil,
  type TestStream,
} from '../../nats/test/nats-server.js';

/** Opens a publisher on NATS, closed when the test finishes. */
export async function openNatsPublisher(
  options: PublisherOptions = {},
): Promise<Publisher> {
  const publisher = await Publisher.open({
    endpoint: NATS_ENDPOINT,
    source: 'zpub://test/nats',
    ...options,
  });
  onTestFinished(async () => {
    await publisher.close();
  });

  return publisher;
}
