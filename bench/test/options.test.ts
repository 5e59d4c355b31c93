import { describe, expect, it } from 'vitest';
import { FULL, QUICK, SUITES, parseCommandLine } from '../src/options.js';

describe('parseCommandLine', () => {
  it('runs every suite with the full options by default', () => {
    const command = parseCommandLine([]);
    expect(command.selected).toEqual([...SUITES]);
    expect(command.options).toEqual(FULL);
    expect(command.mode).toBe('full');
    expect(command.command).toBe('pnpm bench');
  });

  it('leaves scaleout out of --quick', () => {
    const command = parseCommandLine(['--quick']);
    expect(command.selected).toEqual(['throughput']);
    expect(command.options).toEqual(QUICK);
    expect(command.mode).toBe('quick');
  });

  it('includes scaleout in the full run', () => {
    expect(parseCommandLine([]).selected).toContain('scaleout');
  });

  it('runs only the listed suites, in suite order', () => {
    const command = parseCommandLine(['--', '--only', 'scaleout,throughput']);
    expect(command.selected).toEqual(['throughput', 'scaleout']);
    expect(command.mode).toBe('partial');
    expect(command.command).toBe('pnpm bench -- --only scaleout,throughput');
  });

  it('takes rounds, duration and warm-up', () => {
    const command = parseCommandLine([
      '--only',
      'scaleout',
      '--rounds',
      '1',
      '--duration',
      '2',
      '--warmup',
      '1',
    ]);
    expect(command.options.rounds).toBe(1);
    expect(command.options.durationS).toBe(2);
    expect(command.options.warmupS).toBe(1);
    expect(command.options.steadyRate).toBe(FULL.steadyRate);
    expect(command.command).toBe(
      'pnpm bench -- --only scaleout --rounds 1 --duration 2 --warmup 1',
    );
  });

  it('writes no file with shorter runs of every suite', () => {
    const command = parseCommandLine(['--rounds', '1']);
    expect(command.selected).toEqual([...SUITES]);
    expect(command.mode).toBe('partial');
  });

  it('keeps --quick and --only in the command', () => {
    expect(parseCommandLine(['--quick', '--only', 'steady']).command).toBe(
      'pnpm bench -- --quick --only steady',
    );
  });

  it.each(['0', '-1', '1.5', 'two', '', '1001'])(
    'rejects --rounds %j',
    (value) => {
      expect(() => parseCommandLine([`--rounds=${value}`])).toThrow(
        `invalid --rounds ${JSON.stringify(value)}: expected a whole number from 1 to 1000`,
      );
    },
  );

  it('rejects an unknown suite by name', () => {
    expect(() => parseCommandLine(['--only', 'scale'])).toThrow(
      /invalid suite "scale" in --only; expected throughput, .*scaleout/,
    );
  });

  it('reads --help and --json', () => {
    const command = parseCommandLine(['--help', '--json']);
    expect(command.help).toBe(true);
    expect(command.json).toBe(true);
  });
});
