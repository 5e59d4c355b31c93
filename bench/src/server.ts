import { parseArgs } from 'node:util';
import { buildBenchApp, SERVER_VARIANTS, type ServerVariant } from './app.js';
import { requireHarness, serveCommands } from './ipc.js';

/** Counters the harness reads before and after each measurement. */
export interface ServerStats {
  responses: number;
  rssBytes: number;
  /** zpub's publisher counters; absent for the variant without publishing. */
  publisher?: {
    published: number;
    dropped: number;
    sendErrors: number;
    queueDepth: number;
  };
}

requireHarness();

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'none' },
    publish: { type: 'string', default: 'tcp://127.0.0.1:0' },
    'flush-delay-ms': { type: 'string', default: '0' },
  },
});
const variant = values.variant as ServerVariant;
if (!SERVER_VARIANTS.includes(variant)) {
  throw new Error(
    `invalid --variant ${variant}; expected one of ${SERVER_VARIANTS.join(', ')}`,
  );
}

const bench = await buildBenchApp(
  variant,
  values.publish,
  Number(values['flush-delay-ms']),
);
const app = bench.app;
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const hasPublisher = variant !== 'none';

serveCommands(
  {
    url,
    endpoint: hasPublisher ? app.zpub.endpoint : undefined,
  },
  {
    stats: (): ServerStats => ({
      responses: bench.responses(),
      rssBytes: process.memoryUsage.rss(),
      publisher: hasPublisher ? app.zpub.stats : undefined,
    }),
  },
);

process.on('SIGTERM', () => {
  void app.close().finally(() => process.exit(0));
});
