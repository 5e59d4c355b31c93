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
    /** The acknowledgement counters, present with a JetStream stream. */
    acknowledged?: number;
    ackFailures?: number;
    ackTimeouts?: number;
    awaitingAck?: number;
  };
}

requireHarness();

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'none' },
    publish: { type: 'string', default: 'tcp://127.0.0.1:0' },
    'flush-delay-ms': { type: 'string', default: '0' },
    // The zpub variant's publish mode, `bind` or `connect`.
    mode: { type: 'string', default: 'bind' },
    // An existing JetStream stream to store events in, and its subjects,
    // separated by commas.
    stream: { type: 'string' },
    'stream-subjects': { type: 'string', default: '' },
    'topic-prefix': { type: 'string', default: '' },
  },
});
const variant = values.variant as ServerVariant;
if (!SERVER_VARIANTS.includes(variant)) {
  throw new Error(
    `invalid --variant ${variant}; expected one of ${SERVER_VARIANTS.join(', ')}`,
  );
}

const mode = values.mode;
if (mode !== 'bind' && mode !== 'connect') {
  throw new Error(`invalid --mode ${mode}; expected bind or connect`);
}
const stream =
  values.stream === undefined
    ? undefined
    : {
        name: values.stream,
        subjects: values['stream-subjects'].split(',').filter(Boolean),
      };

const bench = await buildBenchApp(
  variant,
  values.publish,
  Number(values['flush-delay-ms']),
  { mode, stream, topicPrefix: values['topic-prefix'] },
);
const app = bench.app;
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const hasPublisher = variant !== 'none';

serveCommands(
  {
    url,
    endpoint: hasPublisher ? app.zpub.endpoint : undefined,
    instance: hasPublisher ? app.zpub.instance : undefined,
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
