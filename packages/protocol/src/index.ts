export {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeBatch,
  encodeEvent,
  type DecodedMessage,
  type DecodeOptions,
  type Frames,
} from './codec.js';
export {
  AcknowledgementTimeoutError,
  DecodeError,
  EndpointError,
  InvalidEndpointError,
  InvalidTopicError,
  ZpubError,
  type DecodeErrorCode,
} from './errors.js';
export {
  BATCH_CONTENT_TYPE,
  DATA_CONTENT_TYPE,
  MESSAGE_EVENT_TYPE,
  REJECTED_REQUEST_EVENT_TYPE,
  REQUEST_EVENT_TYPE,
  SPEC_VERSION,
  createEvent,
  isRequestEvent,
  sequenceOf,
  type EventFields,
  type RejectedRequestData,
  type RequestEventData,
  type ZpubEvent,
} from './event.js';
export { SequenceTracker, type SequenceObservation } from './sequence.js';
export {
  CONTROL_PREFIX,
  HELLO_PREFIX,
  MAX_TOPIC_BYTES,
  REJECTED_REQUEST_TOPIC,
  REQUEST_TOPIC_PREFIX,
  ROOT_ROUTE_TOKEN,
  UNMATCHED_ROUTE_TOKEN,
  assertCustomTopic,
  assertTopic,
  assertTopicFilter,
  escapeRouteSegment,
  isControlTopic,
  isValidTopic,
  matchesAnyFilter,
  matchesFilter,
  requestTopic,
} from './topic.js';
export type {
  PendingAcknowledgement,
  PublisherTransport,
  SubscriberStatus,
  SubscriberStatusListener,
  SubscriberTransport,
  TransportMessage,
} from './transport.js';
export { parseDuration } from './duration.js';
