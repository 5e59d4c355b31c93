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

/** Publishing options of the zpub variant, beside its endpoint. */
export interface BenchPublishOptions {
  /** Bind the ZeroMQ endpoint, or connect to it, as to a zsub proxy. */
  mode?: 'bind' | 'connect';
  /** Store events in this existing JetStream stream (a nats:// endpoint). */
  stream?: { name: string; subjects: string[] };
  /**
   * First token of every topic the app publishes on, so that runs sharing
   * one NATS server stay apart: `PREFIX.http.GET.print.:number` and
   * `PREFIX.number`. Empty keeps the topics of apps/server.
   */
  topicPrefix?: string;
}

/** Topic of the request events of `GET /print/:number`. */
export const PRINT_TOPIC = 'http.GET.print.:number';
/** Topic of the request events of `GET /stamp/:number`. */
export const STAMP_TOPIC = 'http.GET.stamp.:number';

/** Returns `topic` with the prefix of {@link BenchPublishOptions.topicPrefix}. */
export function prefixedTopic(topicPrefix: string, topic: string): string {
  return topicPrefix === '' ? topic : `${topicPrefix}.${topic}`;
}

/** Returns the topic of an app's `number` events. */
export function numberTopic(topicPrefix = ''): string {
  return prefixedTopic(topicPrefix, 'number');
}

export interface BenchApp {
  app: FastifyInstance;
  /** Responses sent since the app started. */
  responses(): number;
}

/**
 * Builds the service of apps/server with the same Fastify options and
 * routes, plus `GET /stamp/:number`, which also puts the publish time in its
 * `number` event for the latency measurement. `publish` applies to the zpub
 * variant, except the topic prefix, which applies to every variant. Every variant counts
 * responses in an onResponse hook, where apps/server logs them at debug
 * level, so every variant runs the same number of hooks.
 */
export async function buildBenchApp(
  variant: ServerVariant,
  endpoint: string,
  flushDelayMs = 0,
  publish: BenchPublishOptions = {},
): Promise<BenchApp> {
  const app = Fastify({
    logger: false,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
  });
  if (variant === 'none') {
    app.decorateReply('publish', () => true);
  } else if (variant === 'zpub') {
    await app.register(zpub, {
      endpoint,
      flushDelayMs,
      mode: publish.mode,
      stream: publish.stream,
    });
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

  const prefix = publish.topicPrefix ?? '';
  const numberEvents = numberTopic(prefix);
  // A route's own topic replaces the one zpub derives from the route, so
  // it is set only with a prefix.
  const routeConfig = (topic: string) =>
    prefix === ''
      ? {}
      : { config: { publish: { topic: prefixedTopic(prefix, topic) } } };
  const params = {
    type: 'object',
    properties: { number: { type: 'integer' } },
    required: ['number'],
  } as const;
  app.get('/', () => 'Hello World!');
  app.get<{ Params: { number: number } }>(
    '/print/:number',
    { schema: { params }, ...routeConfig(PRINT_TOPIC) },
    (request, reply) => {
      const { number } = request.params;
      reply.publish(numberEvents, { number });

      return `Number ${number}`;
    },
  );
  app.get<{ Params: { number: number } }>(
    '/stamp/:number',
    { schema: { params }, ...routeConfig(STAMP_TOPIC) },
    (request, reply) => {
      const { number } = request.params;
      // CLOCK_MONOTONIC, in nanoseconds: one clock for every process on
      // this machine, so the subscriber can subtract it from its own.
      const publishedAt = Number(process.hrtime.bigint());
      reply.publish(numberEvents, { number, publishedAt });

      return `Number ${number}`;
    },
  );

  return { app, responses: () => responses };
}
