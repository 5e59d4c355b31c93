/** The only CloudEvents version zpub writes and reads. */
export const SPEC_VERSION = '1.0';

/** CloudEvents `type` of the event published for each HTTP request. */
export const REQUEST_EVENT_TYPE = 'dev.zpub.http.request';

/**
 * CloudEvents `type` of the event published for a request that Node.js's
 * HTTP parser rejected before Fastify saw it.
 */
export const REJECTED_REQUEST_EVENT_TYPE = 'dev.zpub.http.rejected';

/** CloudEvents `type` of a message an application publishes itself. */
export const MESSAGE_EVENT_TYPE = 'dev.zpub.message';

/** `datacontenttype` of every event zpub writes. */
export const DATA_CONTENT_TYPE = 'application/json';

/** Media type of a payload that holds a JSON array of events. */
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

/**
 * A CloudEvents 1.0 event in structured JSON mode, with the extension
 * attributes zpub adds. Unknown extension attributes are kept as they are.
 */
export interface ZpubEvent<Data = unknown> {
  specversion: typeof SPEC_VERSION;
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype?: string;
  subject?: string;
  /** The topic the event was published on (extension attribute). */
  topic?: string;
  /**
   * Position of the event among the events of its topic from one publisher
   * instance: "1", "2", … as a decimal string (CloudEvents sequence
   * extension).
   */
  sequence?: string;
  /** Identifier of the publisher instance; a new one at every start. */
  zpubinstance?: string;
  data?: Data;
  [extension: string]: unknown;
}

/**
 * `data` of a request event. Each field names the OpenTelemetry HTTP
 * semantic-convention attribute it corresponds to; PROTOCOL.md has the table.
 */
export interface RequestEventData {
  /** `http.request.method` */
  method: string;
  /** `url.path`, without the query string */
  path: string;
  /** `http.route`; absent when no route matched */
  route?: string;
  /** Route parameters, as parsed by the server */
  params: Record<string, unknown>;
  /** `url.query`, parsed into an object */
  query: Record<string, unknown>;
  /** `http.response.status_code` */
  status: number;
  /** `http.server.request.duration`, in milliseconds */
  durationMs: number;
  /** Server-assigned request id (Fastify's `request.id`) */
  requestId: string;
  /** `client.address` */
  clientAddress?: string;
  /** `user_agent.original` */
  userAgent?: string;
  /** `http.request.body.size`, in bytes, when known */
  requestSize?: number;
  /** `http.response.body.size`, in bytes, when known */
  responseSize?: number;
  /** `http.request.header.<key>`; only when the publisher opts in */
  headers?: Record<string, string | string[]>;
}

/**
 * `data` of a rejected request event: what could be read of a request that
 * the HTTP parser rejected. PROTOCOL.md describes each field.
 */
export interface RejectedRequestData {
  /** `http.request.method`, when the request line could be read */
  method?: string;
  /** The request target, path and query, when the request line could be read */
  url?: string;
  /** Status of the response the server wrote, absent when it wrote none */
  status?: number;
  /** The Node.js error code, such as `HPE_HEADER_OVERFLOW` */
  reason: string;
  /** `client.address`: the address of the TCP peer */
  clientAddress?: string;
}

/** Fields a publisher fills in for {@link createEvent}. */
export interface EventFields<Data> {
  id: string;
  source: string;
  type: string;
  time: string;
  topic: string;
  sequence: number;
  instance: string;
  data: Data;
}

/** Builds the CloudEvent zpub publishes, with its attributes in one order. */
export function createEvent<Data>(fields: EventFields<Data>): ZpubEvent<Data> {
  return {
    specversion: SPEC_VERSION,
    id: fields.id,
    source: fields.source,
    type: fields.type,
    time: fields.time,
    datacontenttype: DATA_CONTENT_TYPE,
    topic: fields.topic,
    sequence: String(fields.sequence),
    zpubinstance: fields.instance,
    data: fields.data,
  };
}

/**
 * Returns the event's `sequence` as a number, or undefined when it has none
 * or it is not a positive safe integer. The value may be a JSON integer or a
 * string of decimal digits, with leading zeros allowed so that zero-padded
 * sequences count too.
 */
export function sequenceOf(event: ZpubEvent): number | undefined {
  const sequence: unknown = event.sequence;
  let value: number;
  if (typeof sequence === 'number') {
    value = sequence;
  } else if (typeof sequence === 'string' && /^[0-9]+$/.test(sequence)) {
    value = Number(sequence);
  } else {
    return undefined;
  }

  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Returns true when an event is a request event. */
export function isRequestEvent(
  event: ZpubEvent,
): event is ZpubEvent<RequestEventData> {
  return event.type === REQUEST_EVENT_TYPE;
}
