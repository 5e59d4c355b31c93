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
  type EndpointReadiness,
  type Notice,
  type Readiness,
  type SubscribeOptions,
  type Subscription,
} from './subscribe.js';
export { EndpointError, InvalidEndpointError } from '@zpub/protocol';
export {
  DEFAULT_STREAM_NAME,
  DEFAULT_STREAM_SUBJECTS,
  StreamConfigError,
  assertJetStreamName,
  type NatsConnectionChange,
  type NatsJetStreamOptions,
  type NatsStreamOptions,
} from '@zpub/nats';
export {
  CurveConfigError,
  assertCurveAvailable,
  checkZ85Key,
  generateKeyPair,
  isCurveClient,
  isLocalOnlyEndpoint,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type CurveKeyPair,
  type HandshakeFailure,
  type RejectedPeer,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '@zpub/zeromq';
