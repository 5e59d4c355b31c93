export {
  DEFAULT_NATS_PORT,
  isNatsEndpoint,
  parseNatsEndpoint,
  parseNatsServers,
} from './endpoint.js';
export {
  CONNECT_TIMEOUT_MS,
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_ACKS,
  NatsPublisherTransport,
  type NatsConnectionChange,
  type NatsPublisherOptions,
} from './publisher.js';
export {
  DEFAULT_STREAM_MAX_AGE_MS,
  DEFAULT_STREAM_MAX_BYTES,
  DEFAULT_STREAM_NAME,
  DEFAULT_STREAM_SUBJECTS,
  StreamConfigError,
  assertJetStreamName,
  type NatsStreamOptions,
} from './stream.js';
export {
  NatsSubscriberTransport,
  type NatsJetStreamOptions,
  type NatsSubscriberOptions,
} from './subscriber.js';
export { filtersToSubjects, subjectMatches } from './subjects.js';
