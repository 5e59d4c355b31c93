import { describe, expect, it } from 'vitest';
import { describeOption } from '../src/help.js';
import { createProgram } from '../src/options.js';

/** Options that choose or reach the publisher. */
const CONNECTION_OPTIONS = [
  '--topic',
  '--host',
  '--port',
  '--endpoint',
  '--max-message-size',
];

describe('help text', () => {
  const options = createProgram().options;

  it('gives every option with a value a default', () => {
    const withValue = options.filter((option) => option.required);

    expect(withValue.length).toBeGreaterThanOrEqual(20);
    for (const option of withValue) {
      expect(describeOption(option), option.flags).toMatch(/\(.*default: /);
    }
  });

  it('names a unit or kind for every value', () => {
    for (const option of options.filter((entry) => entry.required)) {
      expect(option.flags, option.flags).toMatch(/ <[a-z]+>$/);
    }
  });

  it('shows the variable of every connection option', () => {
    for (const name of CONNECTION_OPTIONS) {
      const option = options.find((entry) => entry.long === name);

      expect(option?.envVar, name).toMatch(/^ZSUB_[A-Z_]+$/);
      expect(describeOption(option!), name).toContain(`env: ${option?.envVar}`);
    }
  });

  it('describes defaults as commander does', () => {
    const port = options.find((entry) => entry.long === '--port');
    const count = options.find((entry) => entry.long === '--count');

    expect(describeOption(port!)).toBe(
      'TCP port of the publisher (default: 5555, env: ZSUB_PORT)',
    );
    expect(describeOption(count!)).toBe(
      'exit 0 after this many events: printed, run with --exec or counted by --stats (default: no limit, env: ZSUB_COUNT)',
    );
  });
});
