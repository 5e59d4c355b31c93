export {
  DEFAULT_ENDPOINT,
  DEFAULT_LINGER_MS,
  DEFAULT_MAX_QUEUE,
  MAX_BATCH_BYTES,
  Publisher,
  type PublisherOptions,
  type PublisherStats,
  type PublishOptions,
} from './publisher.js';
export { EventEncoder, IsoClock, type TopicEncoding } from './encoder.js';
export {
  subscribe,
  type Notice,
  type SubscribeOptions,
  type Subscription,
} from './subscribe.js';
export { EndpointError, InvalidEndpointError } from '@zpub/zeromq';
