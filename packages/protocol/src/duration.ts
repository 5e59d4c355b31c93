const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/;

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `2h` or `7d` into
 * milliseconds, or returns undefined for any other text.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (match === null) {
    return undefined;
  }
  const [, amount = '', unit = ''] = match;
  const milliseconds = Math.round(Number(amount) * (UNIT_MS[unit] ?? NaN));

  return Number.isSafeInteger(milliseconds) ? milliseconds : undefined;
}
