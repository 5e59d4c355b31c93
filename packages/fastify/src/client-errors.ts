import { METHODS, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { RejectedRequestData } from '@zpub/protocol';
import { MAX_FIELD_LENGTH, truncate } from './request-event.js';

/** An error that Node.js's HTTP server passes to its 'clientError' event. */
interface ClientError extends Error {
  code?: unknown;
  /** The chunk that the parser was reading when it failed. */
  rawPacket?: unknown;
  /** The offset in `rawPacket` where the parser failed. */
  bytesParsed?: unknown;
}

/**
 * Node.js's internal state of an HTTP connection: `parser.incoming` is the
 * last request whose headers were parsed, with `complete` false until its
 * body is, and `_httpMessage` is the response being written. Both are undocumented, so
 * every read of them is checked.
 */
interface ConnectionState {
  parser?: { incoming?: { complete?: unknown } | null } | null;
  _httpMessage?: { req?: unknown; headersSent?: unknown } | null;
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/** The maximum length of a method that Node.js's parser accepts, in bytes. */
const MAX_METHOD_LENGTH = Math.max(...METHODS.map((method) => method.length));

/**
 * Calls `publish` for each request that Node.js's HTTP parser rejects, or
 * times out, before Fastify can respond to it. Such requests have a request
 * line and headers over `maxHeaderSize`, a malformed request line or header,
 * or a body whose framing is invalid while the request is still unanswered.
 * Errors of the connection itself, such as ECONNRESET, publish nothing.
 *
 * One listener runs before the server's own 'clientError' listeners, which
 * write the response (Fastify's `clientErrorHandler`), and it reads the
 * status of that response from the first bytes they write. Returns a
 * function that removes the listener.
 */
export function watchClientErrors(
  server: Server,
  publish: (data: RejectedRequestData) => void,
): () => void {
  // A handler that leaves the connection open gets an error for each
  // further chunk, all of them for the same request.
  const reported = new WeakSet<Socket>();
  const onClientError = (error: ClientError, socket: Socket): void => {
    const reason = error.code;
    if (
      typeof reason !== 'string' ||
      !isRequestError(reason) ||
      reported.has(socket)
    ) {
      return;
    }
    const request = readRejectedRequest(error, socket);
    if (request === undefined) {
      return;
    }
    reported.add(socket);
    const clientAddress = socket.remoteAddress;
    const response = captureStatus(socket);
    // Fastify's listener, which runs after this one, writes the response
    // synchronously, so it has run by the next tick.
    process.nextTick(() => {
      response.restore();
      if (request.reachedFastify && !socket.destroyed) {
        // The handler kept the connection open, so Fastify may still send
        // the response and publish the request event.
        return;
      }
      publish({
        method: request.method,
        url: request.url,
        status: response.status,
        reason: truncate(reason),
        clientAddress,
      });
    });
  };
  server.prependListener('clientError', onClientError);

  return () => {
    server.removeListener('clientError', onClientError);
  };
}

function isRequestError(code: string): boolean {
  return code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
}

interface RequestLine {
  method?: string;
  url?: string;
}

interface RejectedRequest extends RequestLine {
  /** True when the body failed to parse, after Fastify received the request. */
  reachedFastify: boolean;
}

/**
 * Returns the method and URL of the request that failed, as far as they
 * can be read, or undefined when the failure belongs to a request that
 * Fastify has sent a response to, which has its own request event.
 */
function readRejectedRequest(
  error: ClientError,
  socket: Socket,
): RejectedRequest | undefined {
  const state = socket as Socket & ConnectionState;
  const incoming = state.parser?.incoming;
  if (
    typeof incoming !== 'object' ||
    incoming === null ||
    incoming.complete !== false
  ) {
    // The parser failed before the headers ended, so Fastify never saw
    // the request.
    return {
      ...readRequestLine(error.rawPacket, error.bytesParsed),
      reachedFastify: false,
    };
  }
  // The body failed to parse. The request reached Fastify, and unless its
  // response has begun, it will never get one and never run onResponse.
  const response = state._httpMessage;
  if (response?.req !== incoming || response.headersSent !== false) {
    return undefined;
  }
  const request = incoming as IncomingMessage;

  return {
    method: truncateOptional(request.method),
    url: truncateOptional(request.url),
    reachedFastify: true,
  };
}

/**
 * Reads the method and the request target from the chunk that the parser
 * failed in, if that chunk begins with the failed request. It does when it
 * begins with a method that Node.js accepts and a space, and contains no end
 * of a header block before the failure (which would mean an earlier request
 * on the connection). Bytes are read as Latin-1, as Node.js reads headers.
 */
function readRequestLine(
  rawPacket: unknown,
  bytesParsed: unknown,
): RequestLine {
  if (!(rawPacket instanceof Uint8Array)) {
    return {};
  }
  const packet = Buffer.from(
    rawPacket.buffer,
    rawPacket.byteOffset,
    rawPacket.byteLength,
  );
  const space = packet.subarray(0, MAX_METHOD_LENGTH + 1).indexOf(0x20);
  if (space <= 0) {
    return {};
  }
  const method = packet.toString('latin1', 0, space);
  if (!KNOWN_METHODS.has(method)) {
    return {};
  }
  const failedAt =
    typeof bytesParsed === 'number' && bytesParsed >= 0
      ? Math.min(bytesParsed, packet.length)
      : packet.length;
  const beforeFailure = packet.subarray(0, failedAt);
  if (beforeFailure.includes('\n\r\n') || beforeFailure.includes('\n\n')) {
    return {};
  }

  return { method, url: readTarget(packet, space + 1) };
}

/**
 * Reads the request target that starts at `start`, up to the first space
 * or control byte, and cuts it to {@link MAX_FIELD_LENGTH}. A target that the
 * chunk ends in the middle of is marked as cut with `…`.
 */
function readTarget(packet: Buffer, start: number): string | undefined {
  const limit = Math.min(packet.length, start + MAX_FIELD_LENGTH + 1);
  let end = start;
  while (end < limit && !isTargetEnd(packet[end] as number)) {
    end++;
  }
  if (end === start) {
    return undefined;
  }
  const target = packet.toString('latin1', start, end);
  if (end === packet.length && target.length < MAX_FIELD_LENGTH) {
    return `${target}…`;
  }

  return truncate(target);
}

/** Returns true for a space or control byte, which no request target has. */
function isTargetEnd(byte: number): boolean {
  return byte <= 0x20 || byte === 0x7f;
}

function truncateOptional(value: string | undefined): string | undefined {
  return value === undefined ? undefined : truncate(value);
}

interface StatusCapture {
  /** The status in the first bytes written, undefined when none were. */
  readonly status: number | undefined;
  /** Puts the socket's own write and end back. */
  restore(): void;
}

/**
 * Wraps `write` and `end` of one socket until `restore` is called, and
 * reads the status from the first chunk written: a clientError handler
 * writes its response to the raw socket, so nothing else records it.
 */
function captureStatus(socket: Socket): StatusCapture {
  let status: number | undefined;
  let written = false;
  const read = (chunk: unknown): void => {
    if (written || (typeof chunk !== 'string' && !isBytes(chunk))) {
      return;
    }
    written = true;
    status = statusOf(chunk);
  };
  // Typed as plain function properties, so that they can be wrapped and
  // restored.
  const methods = socket as unknown as Record<
    'write' | 'end',
    (...args: unknown[]) => unknown
  >;
  const { write, end } = methods;
  methods.write = (...args) => {
    read(args[0]);

    return write.apply(socket, args);
  };
  methods.end = (...args) => {
    read(args[0]);

    return end.apply(socket, args);
  };

  return {
    get status() {
      return status;
    },
    restore() {
      methods.write = write;
      methods.end = end;
    },
  };
}

function isBytes(chunk: unknown): chunk is Uint8Array {
  return chunk instanceof Uint8Array;
}

/** Reads the status code of an HTTP/1 status line at the start of a chunk. */
function statusOf(chunk: string | Uint8Array): number | undefined {
  const head =
    typeof chunk === 'string'
      ? chunk.slice(0, 16)
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(
          'latin1',
          0,
          16,
        );
  const match = /^HTTP\/\d(?:\.\d)? ([1-9]\d\d)(?: |\r|$)/.exec(head);

  return match === null ? undefined : Number(match[1]);
}
