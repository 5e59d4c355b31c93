export {
  CurveConfigError,
  Z85_KEY_LENGTH,
  assertCurveAvailable,
  checkZ85Key,
  decodeZ85,
  encodeZ85,
  generateKeyPair,
  isZ85Key,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type CurveKeyPair,
  type ZmqCurveClientOptions,
} from './curve.js';
export {
  EndpointError,
  InvalidEndpointError,
  isLocalOnlyEndpoint,
  parseEndpoint,
  toLibzmqBindEndpoint,
  type ParsedEndpoint,
} from './endpoint.js';
export {
  DEFAULT_SEND_HIGH_WATER_MARK,
  ZmqPublisherTransport,
  isCurveClient,
  type HandshakeFailure,
  type ZmqCurveServerOptions,
  type ZmqPublisherOptions,
} from './publisher.js';
export {
  DEFAULT_RECEIVE_HIGH_WATER_MARK,
  HANDSHAKE_TIMEOUT_MS,
  HELLO_TIMEOUT_MS,
  ZmqSubscriberTransport,
  type ZmqSubscriberOptions,
} from './subscriber.js';
export {
  MAX_REMEMBERED_PEERS,
  ZAP_DOMAIN,
  ZapHandler,
  type RejectedPeer,
} from './zap.js';
export { describeZmqError } from './zmq-errors.js';
