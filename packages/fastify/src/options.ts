import { inspect } from 'node:util';
import type { ZpubPluginOptions } from './plugin.js';

/**
 * Throws for a plugin option of its own with a value it does not accept,
 * naming the option, the value and the accepted values. Publisher.open
 * checks the options that the plugin passes on.
 */
export function checkPluginOptions(options: ZpubPluginOptions): void {
  const { requestEvents, headers } = options as Record<string, unknown>;
  if (requestEvents !== undefined && typeof requestEvents !== 'boolean') {
    throw new TypeError(
      `requestEvents must be true or false, got ${describeValue(requestEvents)}`,
    );
  }
  if (headers === undefined || typeof headers === 'boolean') {
    return;
  }
  if (
    !Array.isArray(headers) ||
    !headers.every((name) => typeof name === 'string')
  ) {
    throw new TypeError(
      `headers must be false, true or an array of header names such as ['user-agent'], got ${describeValue(headers)}`,
    );
  }
}

function describeValue(value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity });
}
