import { zpub } from '@zpub/fastify';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { openPeerTransport, type PeerKind } from './peers.js';

/**
 * Publishing of the bench server: none, zpub over ZeroMQ, or zpub's
 * publisher over a broker.
 */
export type ServerVariant = 'none' | 'zpub' | PeerKind;

export const SERVER_VARIANTS: readonly ServerVariant[] = [
  'none',
  'zpub',
  'redis',
  'nats',
  'mqtt',
];

export interface BenchApp {
  app: FastifyInstance;
  /** Responses sent since the app started. */
  responses(): number;
}

/**
 * Builds the service of apps/server with the same Fastify options and
 * routes, plus `GET /stamp/:number`, which also puts the publish time in its
 * `number` event for the latency measurement. Every variant counts
 * responses in an onResponse hook, where apps/server logs them at debug
 * level, so every variant runs the same number of hooks.
 */
export async function buildBenchApp(
  variant: ServerVariant,
  endpoint: string,
  flushDelayMs = 0,
): Promise<BenchApp> {
  const app = Fastify({
    logger: false,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
  });
  if (variant === 'none') {
    app.decorateReply('publish', () => true);
  } else if (variant === 'zpub') {
    await app.register(zpub, { endpoint, flushDelayMs });
  } else {
    const transport = await openPeerTransport(variant, (error) => {
      process.stderr.write(`${variant} publish failed: ${error.message}\n`);
    });
    await app.register(zpub, { transport });
  }

  let responses = 0;
  app.addHook('onResponse', (_request, _reply, done) => {
    responses++;
    done();
  });

  const params = {
    type: 'object',
    properties: { number: { type: 'integer' } },
    required: ['number'],
  } as const;
  app.get('/', () => 'Hello World!');
  app.get<{ Params: { number: number } }>(
    '/print/:number',
    { schema: { params } },
    (request, reply) => {
      const { number } = request.params;
      reply.publish('number', { number });

      return `Number ${number}`;
    },
  );
  app.get<{ Params: { number: number } }>(
    '/stamp/:number',
    { schema: { params } },
    (request, reply) => {
      const { number } = request.params;
      // CLOCK_MONOTONIC, in nanoseconds: one clock for every process on
      // this machine, so the subscriber can subtract it from its own.
      const publishedAt = Number(process.hrtime.bigint());
      reply.publish('number', { number, publishedAt });

      return `Number ${number}`;
    },
  );

  return { app, responses: () => responses };
}
