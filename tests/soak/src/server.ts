import Fastify from 'fastify';
import { zpub } from '@zpub/fastify';
import type { ServerMessage, StatsRequest } from './messages.js';

/**
 * The soak's server, run as a child process of the soak driver: the zpub
 * plugin on an ephemeral loopback endpoint and routes that reply with
 * every status class. These routes exist only here, not in apps/server.
 */
async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  await app.register(zpub, { endpoint: 'tcp://127.0.0.1:0' });

  app.get('/ok', () => ({ ok: true }));
  app.post('/items', (request, reply) => {
    reply.publish('items.created', { body: request.body });
    return reply.code(201).send({ created: true });
  });
  app.get('/redirect', (_request, reply) => reply.redirect('/ok', 302));
  app.get<{ Params: { id: number } }>(
    '/items/:id',
    {
      schema: {
        params: {
          type: 'object',
          properties: { id: { type: 'integer' } },
          required: ['id'],
        },
      },
    },
    (request) => ({ id: request.params.id }),
  );
  app.get('/fail', () => {
    throw new Error('soak: deliberate failure');
  });
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return 'slow';
  });

  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  send({ kind: 'listening', url, endpoint: app.zpub.endpoint });

  process.on('message', (message: StatsRequest) => {
    if (message.kind === 'stats') {
      const memory = process.memoryUsage();
      send({
        kind: 'stats',
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        externalBytes: memory.external,
        arrayBuffersBytes: memory.arrayBuffers,
        ...app.zpub.stats,
      });
    }
  });
  process.on('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

await main();
