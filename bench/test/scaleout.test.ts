import { describe, expect, it } from 'vitest';
import { FULL } from '../src/options.js';
import { renderText, steadyCpuCell, type BenchResults } from '../src/report.js';
import {
  deliveryBetween,
  isExact,
  parseProxyForwarded,
  parseProxyReady,
  streamOwnerPid,
  type ScaleoutDelivery,
  type ScaleoutResult,
} from '../src/scaleout.js';
import type { Environment } from '../src/versions.js';

function check(fields: Partial<ScaleoutDelivery> = {}): ScaleoutDelivery {
  const base = {
    responses: 100,
    requestEvents: 100,
    numberEvents: 100,
    missed: 0,
    dropped: 0,
    published: 200,
    ...fields,
  };

  return { ...base, exact: isExact(base) };
}

describe('scale-out delivery', () => {
  it('is exact with one event of each kind per response', () => {
    expect(check().exact).toBe(true);
  });

  it.each([
    ['a request event less', { requestEvents: 99 }],
    ['a number event more', { numberEvents: 101 }],
    ['a gap', { missed: 1 }],
    ['a drop', { dropped: 1 }],
  ])('is not exact with %s', (_case, fields) => {
    expect(check(fields).exact).toBe(false);
  });

  it('needs every JetStream event acknowledged', () => {
    const acks = { acknowledged: 200, failures: 0, timeouts: 0 };
    expect(check({ acks }).exact).toBe(true);
    expect(check({ acks: { ...acks, acknowledged: 199 } }).exact).toBe(false);
  });

  it.each([
    ['an ack failure', { acknowledged: 199, failures: 1, timeouts: 0 }],
    ['an ack timeout', { acknowledged: 199, failures: 0, timeouts: 1 }],
  ])('is not exact with %s', (_case, acks) => {
    expect(check({ acks }).exact).toBe(false);
  });

  it('subtracts an earlier check', () => {
    const before = check({
      acks: { acknowledged: 200, failures: 0, timeouts: 0 },
    });
    const after = check({
      responses: 250,
      requestEvents: 250,
      numberEvents: 249,
      missed: 1,
      published: 500,
      acks: { acknowledged: 499, failures: 0, timeouts: 1 },
    });
    const between = deliveryBetween(before, after);
    expect(between.responses).toBe(150);
    expect(between.requestEvents).toBe(150);
    expect(between.numberEvents).toBe(149);
    expect(between.missed).toBe(1);
    expect(between.published).toBe(300);
    expect(between.acks).toEqual({
      acknowledged: 299,
      failures: 0,
      timeouts: 1,
    });
    expect(between.exact).toBe(false);
  });

  it('finds a later phase exact after a failed one', () => {
    const before = check({ dropped: 5, requestEvents: 95, numberEvents: 95 });
    const after = check({
      responses: 200,
      requestEvents: 195,
      numberEvents: 195,
      dropped: 5,
    });
    expect(before.exact).toBe(false);
    expect(deliveryBetween(before, after).exact).toBe(true);
  });
});

describe('zsub proxy output', () => {
  it('reads the endpoints of the ready line', () => {
    const output =
      'zsub: proxy ready, frontend tcp://127.0.0.1:40001, backend tcp://127.0.0.1:40002\n';
    expect(parseProxyReady(output)).toEqual({
      frontend: 'tcp://127.0.0.1:40001',
      backend: 'tcp://127.0.0.1:40002',
    });
  });

  it('reads the backend before the cache note', () => {
    const output =
      'zsub: proxy ready, frontend tcp://127.0.0.1:1, backend tcp://127.0.0.1:2, last-value cache on\n';
    expect(parseProxyReady(output)?.backend).toBe('tcp://127.0.0.1:2');
  });

  it('finds no endpoints before the ready line', () => {
    expect(parseProxyReady('zsub: proxy rea')).toBeUndefined();
  });

  it('reads the forwarded count of the last line', () => {
    const output =
      'zsub: proxy stopped after forwarding 4395 messages and 0 cached events\n';
    expect(parseProxyForwarded(output)).toBe(4395);
    expect(parseProxyForwarded('zsub: proxy ready')).toBeUndefined();
  });
});

describe('streamOwnerPid', () => {
  it('reads the process id of a bench stream', () => {
    expect(streamOwnerPid('ZPUB_BENCH_4242')).toBe(4242);
  });

  it.each(['ZPUB', 'ZPUB_TEST_4242', 'ZPUB_BENCH_', 'ZPUB_BENCH_42x'])(
    'ignores %s',
    (name) => {
      expect(streamOwnerPid(name)).toBeUndefined();
    },
  );
});

describe('steadyCpuCell', () => {
  it('shows the CPU alone at the paced rate', () => {
    expect(steadyCpuCell(110.25, 4990, 5000)).toBe('110.25');
  });

  it('adds the rate a server fell back to', () => {
    expect(steadyCpuCell(245, 2381.9, 5000)).toBe(
      '245.00 (reached 2,382 req/s)',
    );
  });
});

const ENVIRONMENT: Environment = {
  date: '2026-01-01T00:00:00.000Z',
  cpu: 'test',
  cores: 2,
  node: 'v20',
  zeromq: '6',
  libzmq: '4',
  fastify: '5',
  wrk: 'wrk',
  clients: {},
  brokers: {},
  python: 'Python',
};

function scaleoutResult(): ScaleoutResult {
  const exact = check();
  const medians = (requestsPerSecond: number, cpuPerRequestUs: number) => ({
    requestsPerSecond,
    cpuPerRequestUs,
  });
  const acks = { acknowledged: 200, failures: 0, timeouts: 0 };

  return {
    rounds: 3,
    saturation: {
      runs: [],
      medians: {
        zeromq: medians(20000, 40),
        nats: medians(15000, 45.5),
        jetstream: medians(3000, 300),
        proxy: medians(21000, 38),
      },
      ratio: { zeromq: 1, nats: 0.75, jetstream: 0.15, proxy: 1.05 },
    },
    steady: {
      runs: [],
      cpuPerRequestUs: { zeromq: 130, nats: 100, jetstream: 250, proxy: 120 },
      rate: { zeromq: 4990, nats: 4990, jetstream: 2400, proxy: 4990 },
    },
    proxyCpuPerEventUs: { saturation: 3.75, steady: 31.5 },
    proxyForwarded: { messages: 1000, events: 10000 },
    delivery: {
      zeromq: { saturation: exact, steady: exact },
      nats: { saturation: exact, steady: check({ missed: 3 }) },
      jetstream: {
        saturation: check({ acks }),
        steady: check({ acks: { ...acks, timeouts: 1 } }),
      },
      proxy: { saturation: exact, steady: exact },
    },
    stream: { name: 'ZPUB_BENCH_1', subjects: ['s.>'], stored: 400 },
    foreignEvents: { zeromq: 0, nats: 7, jetstream: 0, proxy: 0 },
    skipped: {},
  };
}

describe('scale-out report', () => {
  const results: BenchResults = {
    mode: 'partial',
    command: 'pnpm bench -- --only scaleout',
    environment: ENVIRONMENT,
    options: FULL,
    scaleout: scaleoutResult(),
    targets: [],
    failures: {},
    foreignLoad: {},
  };
  const text = renderText(results);
  const row = (label: string) =>
    text.split('\n').find((line) => line.startsWith(label)) ?? '';

  it('has a row per transport', () => {
    expect(row('ZeroMQ, direct')).toMatch(
      /^ZeroMQ, direct\s+20,000\s+1\s+40\.00\s+130\.00\s+exact \/ exact$/,
    );
    expect(row('core NATS')).toMatch(
      /15,000\s+0\.750\s+45\.50\s+100\.00\s+exact \/ NOT exact$/,
    );
  });

  it('shows the proxy CPU per event of both phases', () => {
    expect(row('ZeroMQ through zsub proxy')).toContain('3.75 / 31.50');
  });

  it('shows the rate a fallen-behind variant reached', () => {
    expect(row('NATS with JetStream')).toContain(
      '250.00 (reached 2,400 req/s)',
    );
  });

  it('notes the JetStream acknowledgements', () => {
    expect(text).toContain(
      'JetStream acknowledged 200 of 200 published events, with 0 failures and 1 timeouts.',
    );
    expect(row('NATS with JetStream')).toMatch(/exact \/ NOT exact$/);
  });

  it('notes the stream, the proxy batches and foreign events', () => {
    expect(text).toContain('stream ZPUB_BENCH_1 (subjects s.>');
    expect(text).toContain('which held 400 events');
    expect(text).toContain('10.00 events per message');
    expect(text).toContain('left out of the counts: core NATS 7.');
  });

  it('notes a skipped variant', () => {
    const skipped = scaleoutResult();
    skipped.skipped = { jetstream: 'stream subjects overlap' };
    expect(renderText({ ...results, scaleout: skipped })).toContain(
      'NATS with JetStream skipped: stream subjects overlap',
    );
  });
});
