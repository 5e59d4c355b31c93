/** Reasons a message from the wire is rejected by {@link decodeMessage}. */
export type DecodeErrorCode =
  | 'FRAME_COUNT'
  | 'TOPIC_NOT_UTF8'
  | 'INVALID_TOPIC'
  | 'EMPTY_PAYLOAD'
  | 'PAYLOAD_NOT_UTF8'
  | 'MESSAGE_TOO_LARGE'
  | 'JSON_TOO_DEEP'
  | 'INVALID_JSON'
  | 'NOT_CLOUDEVENT'
  | 'UNSUPPORTED_SPECVERSION'
  | 'TOPIC_MISMATCH';

/** Base class of every error this package throws. */
export class ZpubError extends Error {
  override name = 'ZpubError';
}

/** A topic or topic filter that breaks the rules in PROTOCOL.md. */
export class InvalidTopicError extends ZpubError {
  override name = 'InvalidTopicError';

  constructor(
    readonly topic: string,
    reason: string,
  ) {
    super(`invalid topic ${JSON.stringify(topic)}: ${reason}`);
  }
}

/**
 * A message that cannot be decoded. `topic` is the first frame as text when
 * it was valid UTF-8, and `size` is the total size of all frames in bytes, so
 * a subscriber can report the message in one line and go on.
 */
export class DecodeError extends ZpubError {
  override name = 'DecodeError';

  constructor(
    readonly code: DecodeErrorCode,
    readonly reason: string,
    readonly topic: string | undefined,
    readonly size: number,
    options?: ErrorOptions,
  ) {
    super(reason, options);
  }
}

/** A broker did not confirm a published message within the time allowed. */
export class AcknowledgementTimeoutError extends ZpubError {
  override name = 'AcknowledgementTimeoutError';
}

/** An endpoint that cannot be bound or connected, with the reason and fix. */
export class InvalidEndpointError extends ZpubError {
  override name = 'InvalidEndpointError';

  constructor(
    readonly endpoint: string,
    reason: string,
  ) {
    super(`invalid endpoint ${JSON.stringify(endpoint)}: ${reason}`);
  }
}

/**
 * A bind or connect that the messaging library or server rejected, with its
 * error as `cause`.
 */
export class EndpointError extends ZpubError {
  override name = 'EndpointError';

  constructor(
    readonly endpoint: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
