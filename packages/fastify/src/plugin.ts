import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  Publisher,
  type PublisherOptions,
  type PublisherStats,
  type PublishOptions,
} from '@zpub/client';
import { REQUEST_EVENT_TYPE, assertTopic, requestTopic } from '@zpub/protocol';
import { buildRequestData, type HeaderSelection } from './request-event.js';
import { createRateLimitedLog } from './rate-limited-log.js';

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
  const logSendError = createRateLimitedLog((error: Error, repeats: number) => {
    fastify.log.warn({ err: error, repeats }, 'zpub failed to send an event');
  });
  const publisher = await Publisher.open({
    ...options,
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
    fastify.addHook('onResponse', (request, reply, done) => {
      publishRequestEvent(request, reply);
      done();
    });
  }

  function publishRequestEvent(request: FastifyRequest, reply: FastifyReply) {
    const config = request.routeOptions.config.publish;
    if (config === false) {
      return;
    }
    try {
      const data = buildRequestData(request, reply, headers);
      const topic = config?.topic ?? requestTopic(request.method, data.route);
      const eventData =
        config?.data === undefined ? data : { ...data, extra: config.data };
      publish(topic, eventData, { type: REQUEST_EVENT_TYPE });
    } catch (error) {
      request.log.error({ err: error }, 'zpub could not build a request event');
    }
  }

  fastify.addHook('onClose', async () => {
    const stats = await publisher.close();
    fastify.log.info({ zpub: stats }, 'zpub publisher closed');
  });
};

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
