/** Default for the interval of {@link createRateLimitedLog}: 10 seconds. */
export const LOG_INTERVAL_MS = 10_000;

/**
 * Wraps a log call so it runs at most once per interval. The first item,
 * such as an error, is logged at once; later ones within the interval are
 * counted and the count goes with the next line that is logged.
 */
export function createRateLimitedLog<Item = Error>(
  log: (item: Item, repeats: number) => void,
  intervalMs = LOG_INTERVAL_MS,
): (item: Item) => void {
  let lastLoggedAt = -Infinity;
  let suppressed = 0;

  return (item) => {
    const now = Date.now();
    if (now - lastLoggedAt < intervalMs) {
      suppressed++;
      return;
    }
    lastLoggedAt = now;
    log(item, suppressed);
    suppressed = 0;
  };
}
