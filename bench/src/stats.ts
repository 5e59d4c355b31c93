/** Returns the median of `values`, or NaN when there are none. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * Returns the `q` quantile of `values` (0 ≤ q ≤ 1) by the nearest-rank
 * method: the smallest value with at least a fraction `q` of all values at
 * or below it. NaN when there are none.
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = Array.from(values).sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));

  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** p50, p99, p99.9 and max of a set of latencies, in their own unit. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Summarizes latency samples; every field but count is NaN for none. */
export function summarizeLatency(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted.length === 0
      ? Number.NaN
      : (sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number);

  return {
    count: sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max:
      sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

/** A growable buffer of numbers that keeps at most `capacity` of them. */
export class SampleBuffer {
  readonly #values: Float64Array;
  #length = 0;

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity);
  }

  /** Adds a sample; returns false when the buffer is full and drops it. */
  push(value: number): boolean {
    if (this.#length === this.#values.length) {
      return false;
    }
    this.#values[this.#length++] = value;

    return true;
  }

  clear(): void {
    this.#length = 0;
  }

  get values(): Float64Array {
    return this.#values.subarray(0, this.#length);
  }
}
