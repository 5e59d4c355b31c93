import { setImmediate as nextTurn } from 'node:timers/promises';
import { Publisher } from '@zpub/client';
import { requireHarness, serveCommands } from './ipc.js';
import { processCpuUs } from './procfs.js';

/** Topic of the events the blaster publishes. */
export const BLAST_TOPIC = 'bench.blast';

export interface BlastResult {
  published: number;
  dropped: number;
  durationMs: number;
}

/**
 * Data shaped like a request event's, so that the events are the size of
 * the ones the server publishes.
 */
function sampleData(index: number): unknown {
  return {
    method: 'GET',
    path: `/print/${index % 1000}`,
    route: '/print/:number',
    params: { number: index % 1000 },
    query: {},
    status: 200,
    durationMs: 0.042,
    requestId: `req-${index}`,
    clientAddress: '127.0.0.1',
  };
}

requireHarness();

const publisher = await Publisher.open({
  endpoint: 'tcp://127.0.0.1:0',
  maxQueue: 100_000,
});
let index = 0;

serveCommands(
  { endpoint: publisher.endpoint },
  {
    /**
     * Publishes `perTurn` events every event-loop turn for `durationMs`, so
     * that each turn sends one batch, as fast as the loop turns.
     */
    run: async (argument): Promise<BlastResult> => {
      const { durationMs, perTurn } = argument as {
        durationMs: number;
        perTurn: number;
      };
      const before = publisher.stats;
      const start = performance.now();
      while (performance.now() - start < durationMs) {
        for (let count = 0; count < perTurn; count++) {
          publisher.publish(BLAST_TOPIC, sampleData(index++));
        }
        await nextTurn();
      }
      while (publisher.stats.queueDepth > 0) {
        await nextTurn();
      }
      const after = publisher.stats;
      return {
        published: after.published - before.published,
        dropped: after.dropped - before.dropped,
        durationMs: performance.now() - start,
      };
    },
    /** Publishes one event, so that a subscriber reports a gap at the end. */
    tail: () => publisher.publish(BLAST_TOPIC, sampleData(index++)),
    /**
     * Runs `count` turns of the event loop `intervalUs` apart and publishes
     * one event in each when `publish` is set, and returns this process's
     * CPU time per turn in µs, all threads together. The difference between
     * the two runs is what one message alone costs the publisher.
     */
    paced: async (argument): Promise<number> => {
      const { intervalUs, count, publish } = argument as {
        intervalUs: number;
        count: number;
        publish: boolean;
      };
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      const before = processCpuUs(process.pid);
      for (let turn = 0; turn < count; turn++) {
        Atomics.wait(sleeper, 0, 0, intervalUs / 1000);
        if (publish) {
          publisher.publish(BLAST_TOPIC, sampleData(index++));
        }
        await nextTurn();
      }

      return (processCpuUs(process.pid) - before) / count;
    },
  },
);

process.on('SIGTERM', () => {
  void publisher.close().finally(() => process.exit(0));
});
