import { STATUS_CODES } from 'node:http';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';

/**
 * Fastify's `frameworkErrors` handler with request events: it replies as
 * Fastify 5 does without a handler, with the same status, headers and body,
 * and then publishes the request's event, which Fastify's router would
 * otherwise skip. Pass it to Fastify, since a plugin cannot set it:
 * `Fastify({ frameworkErrors: zpubFrameworkErrors })`.
 *
 * Fastify 5 calls it for a URL with invalid percent-encoding
 * (`FST_ERR_BAD_URL`, 400), a route parameter over `maxParamLength`
 * (`FST_ERR_MAX_PARAM_LENGTH`, 414) and a failed asynchronous constraint
 * (`FST_ERR_ASYNC_CONSTRAINT`, 500).
 */
export function zpubFrameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode ?? 500;
  const body = JSON.stringify(defaultBody(error, status));
  // Written to the raw response, as Fastify does, so that the headers are
  // the same too. Headers set one by one stay readable for the event.
  reply.raw.setHeader('Content-Type', 'application/json');
  reply.raw.setHeader('Content-Length', Buffer.byteLength(body));
  reply.raw.writeHead(status);
  reply.raw.end(body);
  // The plugin may not be registered, or not on the root instance.
  const server = request.server as Partial<Pick<FastifyInstance, 'zpub'>>;
  server.zpub?.publishRequestEvent(request, reply);
}

/** Returns the body Fastify 5.12 writes for these errors by default. */
function defaultBody(
  error: FastifyError,
  status: number,
): Record<string, unknown> {
  if (
    error.code === 'FST_ERR_BAD_URL' ||
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
  ) {
    // Fastify's default body has the error Bad Request for the 414 too.
    return {
      error: 'Bad Request',
      code: error.code,
      message: error.message,
      statusCode: status,
    };
  }
  if (error.code === 'FST_ERR_ASYNC_CONSTRAINT') {
    return {
      error: STATUS_CODES[status],
      message: error.message,
      statusCode: status,
    };
  }

  return {
    error: STATUS_CODES[status],
    code: error.code,
    message: error.message,
    statusCode: status,
  };
}
