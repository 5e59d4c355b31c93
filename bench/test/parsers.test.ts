import { describe, expect, it } from 'vitest';
import { parseCpuTicks, parseRssBytes } from '../src/procfs.js';
import { RESULTS_END, RESULTS_START, replaceResults } from '../src/report.js';
import { median, quantile, summarizeLatency } from '../src/stats.js';
import { parseWrk } from '../src/wrk.js';

const WRK_OUTPUT = `Running 2s test @ http://127.0.0.1:41234/print/7
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  302.11us   9.87ms   91.20%
    Req/Sec    21.10k     1.02k   22.50k    80.00%
  Latency Distribution
     50%    1.48ms
     75%    1.60ms
     90%    1.75ms
     99%  850.00us
  42210 requests in 2.00s, 6.93MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 3
Requests/sec:  21093.44
Transfer/sec:      3.46MB
`;

describe('parseWrk', () => {
  it('reads requests, rate and percentiles', () => {
    const result = parseWrk(WRK_OUTPUT);
    expect(result.requests).toBe(42210);
    expect(result.requestsPerSecond).toBe(21093.44);
    expect(result.latencyMs.p50).toBeCloseTo(1.48);
    expect(result.latencyMs.p99).toBeCloseTo(0.85);
  });

  it('adds up socket errors and non-2xx responses', () => {
    const result = parseWrk(WRK_OUTPUT);
    expect(result.socketErrors).toBe(3);
    expect(result.non2xx).toBe(3);
  });

  it('counts no errors when wrk prints none', () => {
    const clean = WRK_OUTPUT.replace(/^\s+Socket errors.*\n/m, '').replace(
      /^\s+Non-2xx.*\n/m,
      '',
    );
    expect(parseWrk(clean).socketErrors).toBe(0);
    expect(parseWrk(clean).non2xx).toBe(0);
  });

  it('rejects output without a rate', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1')).toThrow(
      /unexpected wrk output/,
    );
  });
});

describe('procfs parsers', () => {
  it('reads utime and stime after a name with spaces', () => {
    const stat =
      '4242 (node (worker) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 37 0 0 20 0 11 0 123 456 789';
    expect(parseCpuTicks(stat)).toBe(287);
  });

  it('reads VmRSS in bytes', () => {
    expect(
      parseRssBytes('Name:\tnode\nVmRSS:\t  51200 kB\nThreads:\t11\n'),
    ).toBe(51200 * 1024);
  });

  it('rejects a status without VmRSS', () => {
    expect(() => parseRssBytes('Name:\tnode\n')).toThrow(/VmRSS/);
  });
});

describe('statistics', () => {
  it('takes the nearest-rank quantile', () => {
    const values = [5, 1, 4, 2, 3];
    expect(median(values)).toBe(3);
    expect(quantile(values, 0.99)).toBe(5);
    expect(quantile(values, 0)).toBe(1);
  });

  it('returns NaN for no values', () => {
    expect(median([])).toBeNaN();
    expect(summarizeLatency([]).p99).toBeNaN();
  });

  it('summarizes latency samples', () => {
    const samples = Array.from({ length: 1000 }, (_, index) => index + 1);
    const summary = summarizeLatency(samples);
    expect(summary.count).toBe(1000);
    expect(summary.p50).toBe(500);
    expect(summary.p99).toBe(990);
    expect(summary.p999).toBe(999);
    expect(summary.max).toBe(1000);
  });
});

describe('replaceResults', () => {
  it('replaces only the text between the markers', () => {
    const existing = `# Benchmarks\n\nintro\n\n${RESULTS_START}\nold\n${RESULTS_END}\n\n## Steps\n\nkept\n`;
    const updated = replaceResults(existing, 'new');
    expect(updated).toContain('intro');
    expect(updated).toContain('## Steps\n\nkept');
    expect(updated).toContain('new');
    expect(updated).not.toContain('old');
  });

  it('appends the block to a file without markers', () => {
    const updated = replaceResults('# Benchmarks\n\nintro\n', 'new');
    expect(updated.startsWith('# Benchmarks\n\nintro')).toBe(true);
    expect(updated).toContain(`${RESULTS_START}\n\nnew\n${RESULTS_END}`);
  });

  it('creates a file when there is none', () => {
    expect(replaceResults(undefined, 'new')).toMatch(/^# Benchmarks\n/);
  });
});
