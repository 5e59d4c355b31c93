import type { ZpubEvent } from '@zpub/protocol';

/** Characters of a field path: attribute and member names joined by `.`. */
export const FIELD_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

/**
 * Returns the value at a field path of the event, such as `topic`,
 * `data.status` or `data.items.0`, or undefined when any step is missing.
 */
export function fieldValue(event: ZpubEvent, path: string): unknown {
  let value: unknown = event;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) {
      return undefined;
    }
    // Own members only, so that `constructor` or `__proto__` find nothing.
    if (!Object.prototype.hasOwnProperty.call(value, key)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[key];
  }

  return value;
}

/**
 * Returns a field value as text: a string as it is, undefined as the empty
 * string, and any other value as JSON.
 */
export function fieldText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }

  // JSON.stringify returns undefined for undefined, functions and symbols.
  return JSON.stringify(value) ?? '';
}
