/** The upper bound of the first bucket, which also counts 0: 1 microsecond. */
const MIN_VALUE_MS = 0.001;

/** Ratio between the bounds of neighboring buckets: 1 % apart. */
const BUCKET_RATIO = 1.01;
const LOG_RATIO = Math.log(BUCKET_RATIO);

/**
 * Counts durations in buckets whose bounds grow by 1 % each, so that memory
 * stays bounded and a percentile is within 1 % of the exact value. Values
 * from 1 µs to 1 hour fall into at most about 2,200 buckets.
 */
export class LatencyHistogram {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #min = Infinity;
  #max = -Infinity;

  get count(): number {
    return this.#count;
  }

  /** Adds a duration in milliseconds; negative and non-finite values are ignored. */
  add(valueMs: number): void {
    if (!Number.isFinite(valueMs) || valueMs < 0) {
      return;
    }
    const index =
      valueMs <= MIN_VALUE_MS
        ? 0
        : Math.ceil(Math.log(valueMs / MIN_VALUE_MS) / LOG_RATIO);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    this.#min = Math.min(this.#min, valueMs);
    this.#max = Math.max(this.#max, valueMs);
  }

  /**
   * Returns the value below which `fraction` (0 to 1) of the durations lie,
   * as the middle of its bucket clamped to the observed range, or undefined
   * for an empty histogram.
   */
  percentile(fraction: number): number | undefined {
    if (this.#count === 0) {
      return undefined;
    }
    const rank = Math.max(1, Math.ceil(fraction * this.#count));
    const indexes = [...this.#buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of indexes) {
      seen += this.#buckets.get(index) ?? 0;
      if (seen >= rank) {
        // The middle of the bucket is within 0.5 % of every value in it.
        const upper = index === 0 ? 0 : MIN_VALUE_MS * BUCKET_RATIO ** index;
        const middle = (upper + upper / BUCKET_RATIO) / 2;
        return Math.min(Math.max(middle, this.#min), this.#max);
      }
    }

    return this.#max;
  }
}
