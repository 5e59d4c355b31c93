export {
  EndpointError,
  InvalidEndpointError,
  parseEndpoint,
  toLibzmqBindEndpoint,
  type ParsedEndpoint,
} from './endpoint.js';
export {
  DEFAULT_SEND_HIGH_WATER_MARK,
  ZmqPublisherTransport,
  describeZmqError,
  type ZmqPublisherOptions,
} from './publisher.js';
export {
  DEFAULT_RECEIVE_HIGH_WATER_MARK,
  HELLO_TIMEOUT_MS,
  ZmqSubscriberTransport,
  type ZmqSubscriberOptions,
} from './subscriber.js';
