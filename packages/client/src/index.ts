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
export {
  subscribe,
  type Notice,
  type SubscribeOptions,
  type Subscription,
} from './subscribe.js';
export {
  CurveConfigError,
  EndpointError,
  InvalidEndpointError,
  assertCurveAvailable,
  checkZ85Key,
  generateKeyPair,
  isLocalOnlyEndpoint,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type CurveKeyPair,
  type RejectedPeer,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '@zpub/zeromq';
