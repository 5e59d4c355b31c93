import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import fp from 'fastify-plugin';
import {
  Publisher,
  isCurveClient,
  isLocalOnlyEndpoint,
  publicKeyOf,
  type HandshakeFailure,
  type PublisherOptions,
  type RejectedPeer,
  type PublisherStats,
  type PublishOptions,
} from '@zpub/client';
import {
  REJECTED_REQUEST_EVENT_TYPE,
  REJECTED_REQUEST_TOPIC,
  REQUEST_EVENT_TYPE,
  assertTopic,
  createRateLimitedLog,
  requestTopic,
  type RejectedRequestData,
} from '@zpub/protocol';
import {
  buildRequestData,
  serializeRequestData,
  type HeaderSelection,
} from './request-event.js';
import { watchClientErrors } from './client-errors.js';
import { checkPluginOptions } from './options.js';

export interface ZpubPluginOptions extends Omit<
  PublisherOptions,
  'onSendError'
> {
  /**
   * Publish a request event for every response.
   * @default true
   */
  requestEvents?: boolean;
  /**
   * Request headers to copy into request events: `false` for none, `true`
   * for all, or a list of names. `authorization`, `cookie`, `set-cookie` and
   * `proxy-authorization` are always redacted.
   * @default false
   */
  headers?: HeaderSelection;
}

/** Per-route settings, under `config.publish` of a route. */
export interface RoutePublishConfig {
  /** Topic of this route's request events, in place of `http.METHOD.route`. */
  topic?: string;
  /** Extra fields merged into `data.extra` of this route's request events. */
  data?: Record<string, unknown>;
}

/** The `fastify.zpub` decorator. */
export interface ZpubDecorator {
  /**
   * Queues an event and returns at once; false when it was dropped or
   * rejected. Never throws: a failure is logged and counted.
   */
  publish(topic: string, data: unknown, options?: PublishOptions): boolean;
  /**
   * Counters since startup: published, dropped, sendErrors, queueDepth, and
   * with a JetStream stream the acknowledgement counters.
   */
  readonly stats: PublisherStats;
  /**
   * Publishes the request event of a request that Fastify responded to
   * without running its hooks, as in a `frameworkErrors` handler. Call it
   * once the reply is sent. Requests that reach onResponse publish theirs
   * already.
   */
  publishRequestEvent(request: FastifyRequest, reply: FastifyReply): void;
  /** The endpoint as bound, with the real port. */
  readonly endpoint: string;
  /** `zpubinstance` of this process's events. */
  readonly instance: string;
  readonly source: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    zpub: ZpubDecorator;
  }
  interface FastifyReply {
    /** Publishes a custom event, as {@link ZpubDecorator.publish}. */
    publish(topic: string, data: unknown, options?: PublishOptions): boolean;
  }
  interface FastifyContextConfig {
    /** `false` publishes no request event for this route. */
    publish?: false | RoutePublishConfig;
  }
}

const zpubPlugin: FastifyPluginAsync<ZpubPluginOptions> = async (
  fastify,
  options,
) => {
  checkPluginOptions(options);
  const logSendError = createRateLimitedLog((error: Error, repeats: number) => {
    fastify.log.warn({ err: error, repeats }, 'zpub failed to send an event');
  });
  const logRejectedPeer = createRateLimitedLog(
    (peer: RejectedPeer, repeats: number) => {
      fastify.log.warn(
        { publicKey: peer.publicKey, address: peer.address, repeats },
        `zpub rejected a subscriber from ${peer.address}: its ${peer.mechanism || 'NULL'} key ${peer.publicKey || '(none)'} is not on the allowlist`,
      );
    },
  );
  const logHandshakeFailure = createRateLimitedLog(
    (failure: HandshakeFailure, repeats: number) => {
      const curvePublicKey = ownPublicKey(options);
      const key =
        curvePublicKey === undefined
          ? ''
          : `; this publisher's CURVE public key is ${curvePublicKey}`;
      fastify.log.warn(
        { endpoint: failure.endpoint, curvePublicKey, repeats },
        `zpub's handshake with ${failure.endpoint} failed: ${failure.reason}${key}. Events go nowhere until a handshake succeeds`,
      );
    },
  );
  const curve = options.curve;
  const publisher = await Publisher.open({
    ...options,
    curve:
      curve === undefined || isCurveClient(curve)
        ? curve
        : {
            ...curve,
            onRejected: (peer: RejectedPeer) => {
              logRejectedPeer(peer);
              curve.onRejected?.(peer);
            },
          },
    onHandshakeFailed: (failure) => {
      logHandshakeFailure(failure);
      options.onHandshakeFailed?.(failure);
    },
    onSendError: logSendError,
    onConnectionChange: (change) => {
      if (change.connected) {
        fastify.log.info(
          { server: change.server, zpub: publisher.stats },
          'zpub reconnected to NATS; publishing resumes',
        );
      } else {
        fastify.log.warn(
          { server: change.server },
          'zpub lost its connection to NATS; events fail and are counted until it is back',
        );
      }
      options.onConnectionChange?.(change);
    },
  });
  warnAboutExposure(fastify, publisher.endpoint, options);
  const headers = options.headers ?? false;

  const publish = (
    topic: string,
    data: unknown,
    publishOptions?: PublishOptions,
  ): boolean => {
    try {
      return publisher.publish(topic, data, publishOptions);
    } catch (error) {
      fastify.log.error(
        { err: error, topic },
        'zpub could not publish an event',
      );
      return false;
    }
  };

  fastify.decorate('zpub', {
    publish,
    publishRequestEvent: (request, reply) => {
      if (options.requestEvents !== false) {
        publishRequestEvent(request, reply);
      }
    },
    get stats() {
      return publisher.stats;
    },
    endpoint: publisher.endpoint,
    instance: publisher.instance,
    source: publisher.source,
  } satisfies ZpubDecorator);
  fastify.decorateReply(
    'publish',
    function (
      this: FastifyReply,
      topic: string,
      data: unknown,
      publishOptions?: PublishOptions,
    ) {
      return publish(topic, data, publishOptions);
    },
  );

  fastify.addHook('onRoute', (route) => {
    const topic = (route.config as { publish?: unknown } | undefined)?.publish;
    if (typeof topic === 'object' && topic !== null && 'topic' in topic) {
      // Checked here, at startup, so a typo fails the boot, not a request.
      assertTopic(String(topic.topic));
    }
  });

  if (options.requestEvents !== false) {
    // NOTE: Fastify's router responds to a URL with invalid percent-encoding
    // or a parameter over maxParamLength without running hooks. Those requests
    // publish their event only through zpubFrameworkErrors, which the app
    // must pass to Fastify, because a plugin cannot set it.
    fastify.addHook('onResponse', (request, reply, done) => {
      publishRequestEvent(request, reply);
      done();
    });
    const unwatchClientErrors = watchClientErrors(
      fastify.server,
      publishRejectedRequest,
    );
    fastify.addHook('onClose', (_instance, done) => {
      unwatchClientErrors();
      done();
    });
  }

  // Keyed by a route's config object, which Fastify keeps for the life of
  // the route, so the topic of each route and method is built once.
  const routeTopics = new WeakMap<object, Map<string, string>>();

  function topicOf(
    config: object,
    method: string,
    route: string | undefined,
  ): string {
    let topics = routeTopics.get(config);
    if (topics === undefined) {
      topics = new Map();
      routeTopics.set(config, topics);
    }
    let topic = topics.get(method);
    if (topic === undefined) {
      topic = requestTopic(method, route);
      topics.set(method, topic);
    }

    return topic;
  }

  function publishRequestEvent(request: FastifyRequest, reply: FastifyReply) {
    // routeOptions is built anew on each access, so it is read once.
    const routeOptions = request.routeOptions;
    const routeConfig = routeOptions.config;
    const config = routeConfig.publish;
    if (config === false) {
      return;
    }
    try {
      const route = routeOptions.url;
      const data = buildRequestData(request, reply, headers, route);
      const topic =
        config?.topic ?? topicOf(routeConfig, request.method, route);
      const json = serializeRequestData(
        config?.data === undefined ? data : { ...data, extra: config.data },
      );
      publishJson(topic, json);
    } catch (error) {
      request.log.error({ err: error }, 'zpub could not build a request event');
    }
  }

  const requestEventOptions = { type: REQUEST_EVENT_TYPE };
  const rejectedRequestOptions = { type: REJECTED_REQUEST_EVENT_TYPE };

  function publishRejectedRequest(data: RejectedRequestData): void {
    try {
      publisher.publishJson(
        REJECTED_REQUEST_TOPIC,
        JSON.stringify(data),
        rejectedRequestOptions,
      );
    } catch (error) {
      fastify.log.error(
        { err: error, topic: REJECTED_REQUEST_TOPIC },
        'zpub could not publish an event',
      );
    }
  }

  function publishJson(topic: string, json: string): void {
    try {
      publisher.publishJson(topic, json, requestEventOptions);
    } catch (error) {
      fastify.log.error(
        { err: error, topic },
        'zpub could not publish an event',
      );
    }
  }

  fastify.addHook('onClose', async () => {
    const stats = await publisher.close();
    fastify.log.info({ zpub: stats }, 'zpub publisher closed');
  });
};

/** Returns the public key of the publisher's own CURVE secret key, if set. */
function ownPublicKey(options: ZpubPluginOptions): string | undefined {
  const secretKey = options.curve?.secretKey;

  return secretKey === undefined ? undefined : publicKeyOf(secretKey.trim());
}

/**
 * Logs one warning at startup for a setup that lets others read events: an
 * endpoint reachable from other machines without CURVE, or CURVE without an
 * allowlist.
 */
function warnAboutExposure(
  fastify: FastifyInstance,
  endpoint: string,
  options: ZpubPluginOptions,
): void {
  if (options.curve === undefined) {
    if (!isLocalOnlyEndpoint(endpoint)) {
      fastify.log.warn(
        { publish: endpoint },
        `zpub publishes on ${endpoint} without CURVE: anyone who can reach it can read every event, unencrypted. Set a CURVE secret key and an allowlist, or bind to 127.0.0.1`,
      );
    }
    return;
  }
  if (
    !isCurveClient(options.curve) &&
    options.curve.allowedKeys === undefined
  ) {
    fastify.log.warn(
      { publish: endpoint },
      'zpub uses CURVE without an allowlist: any subscriber that has the public key of the publisher can read events. Set an allowlist of subscriber keys',
    );
  }
}

/**
 * Publishes a CloudEvent for every response and lets handlers publish their
 * own with `reply.publish(topic, data)`. The endpoint is bound while the
 * plugin registers, so a port in use or an invalid endpoint fails
 * `fastify.ready()` before the server takes a request.
 */
export const zpub = fp(zpubPlugin, {
  fastify: '5.x',
  name: '@zpub/fastify',
});
