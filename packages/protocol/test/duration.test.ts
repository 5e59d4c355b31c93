import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    [' 5m ', 300_000],
  ])('reads %j as %d ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each([
    '',
    '5',
    'm',
    '-5m',
    '5 m',
    '5M',
    '5w',
    '1e3s',
    '9'.repeat(30) + 'd',
  ])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
