/** Default for the interval of {@link createRateLimitedLog}: 10 seconds. */
export const LOG_INTERVAL_MS = 10_000;

/**
 * Wraps a log call so it runs at most once per interval. The first error
 * is logged at once; later ones within the interval are counted and the
 * count goes with the next line that is logged.
 */
export function createRateLimitedLog(
  log: (error: Error, repeats: number) => void,
  intervalMs = LOG_INTERVAL_MS,
): (error: Error) => void {
  let lastLoggedAt = -Infinity;
  let suppressed = 0;

  return (error) => {
    const now = Date.now();
    if (now - lastLoggedAt < intervalMs) {
      suppressed++;
      return;
    }
    lastLoggedAt = now;
    log(error, suppressed);
    suppressed = 0;
  };
}
