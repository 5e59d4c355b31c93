import { LOAD_CORE, runPinned } from './processes.js';

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  latencyMs: { p50: number; p99: number };
  socketErrors: number;
  non2xx: number;
}

const UNIT_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
};

function toMs(value: string, unit: string): number {
  const scale = UNIT_MS[unit];
  if (scale === undefined) {
    throw new Error(`unknown wrk time unit ${unit}`);
  }

  return Number(value) * scale;
}

/** Parses the output of `wrk --latency`. */
export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (match === null) {
      throw new Error(
        `unexpected wrk output, no match for ${pattern}:\n${output}`,
      );
    }

    return Number(match[1]);
  };
  const percentile = (label: string): number => {
    const match = new RegExp(
      `^\\s+${label}%\\s+([\\d.]+)(us|ms|s|m)$`,
      'm',
    ).exec(output);
    if (match === null) {
      throw new Error(`no ${label}% line in wrk output:\n${output}`);
    }

    return toMs(match[1] ?? '', match[2] ?? '');
  };
  const errors =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      output,
    );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);

  return {
    requests: number(/^\s+(\d+) requests in /m),
    requestsPerSecond: number(/^Requests\/sec:\s+([\d.]+)$/m),
    latencyMs: { p50: percentile('50'), p99: percentile('99') },
    socketErrors:
      errors === null
        ? 0
        : errors.slice(1).reduce((sum, value) => sum + Number(value), 0),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

/** Runs wrk on the load core for `durationS` seconds against `url`. */
export async function runWrk(
  url: string,
  durationS: number,
  connections: number,
): Promise<WrkResult> {
  const output = await runPinned(
    LOAD_CORE,
    'wrk',
    ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', url],
    (durationS + 15) * 1000,
  );

  return parseWrk(output);
}
