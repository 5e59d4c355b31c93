import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import {
  zpub,
  zpubFrameworkErrors,
  type ZpubPluginOptions,
} from '@zpub/fastify';

/** An optional minus sign and decimal digits, nothing else. */
const INTEGER_PATTERN = '^-?[0-9]+$';

/** A `/print/:number` value beyond the safe integer range, rejected with 400. */
class OutOfRangeError extends Error {
  readonly statusCode = 400;

  constructor(value: string) {
    super(
      `params/number must be an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}, got ${value}`,
    );
    this.name = 'OutOfRangeError';
  }
}

export interface AppOptions {
  /** Options of the zpub plugin, such as the endpoint to publish on. */
  zpub?: ZpubPluginOptions;
  /** Fastify's logger option. */
  logger?: FastifyServerOptions['logger'];
}

/**
 * Builds the service: `GET /` and `GET /print/:number`, which publishes
 * `{ number }` on topic `number`. Every request also goes out as a request
 * event, and one that the HTTP parser rejects as a rejected request event.
 * The publisher binds while the app gets ready.
 */
export function buildApp(options: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // Every request is already published as an event; log it at debug only.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    // Publishes request events for the URLs that Fastify's router rejects
    // before any hook runs: invalid percent-encoding and params over
    // maxParamLength.
    frameworkErrors: zpubFrameworkErrors,
  });
  // Not awaited: a failed bind rejects app.ready(), where callers handle it.
  void app.register(zpub, options.zpub ?? {});

  app.addHook('onResponse', (request, reply, done) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        durationMs: reply.elapsedTime,
      },
      'request completed',
    );
    done();
  });

  app.get('/', () => 'Hello World!');

  app.get<{ Params: { number: string } }>(
    '/print/:number',
    {
      schema: {
        params: {
          type: 'object',
          // A string, because Ajv's type coercion would turn '', ' ', '0x10',
          // '1e3' and '+5' into integers.
          properties: { number: { type: 'string', pattern: INTEGER_PATTERN } },
          required: ['number'],
        },
      },
    },
    (request, reply) => {
      const number = Number(request.params.number);
      if (!Number.isSafeInteger(number)) {
        throw new OutOfRangeError(request.params.number);
      }
      reply.publish('number', { number });

      return `Number ${number}`;
    },
  );

  return app;
}
