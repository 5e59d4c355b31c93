import { describe, expect, it } from 'vitest';
import { ExpectationError, compileExpectation } from '../src/expect.js';
import { makeEvent, requestEvent } from './helpers.js';

const CHECKOUT_ERROR = requestEvent({
  method: 'POST',
  route: '/checkout',
  path: '/checkout',
  status: 500,
  durationMs: 320,
});
const CHECKOUT_OK = requestEvent({
  method: 'POST',
  route: '/checkout',
  path: '/checkout',
  status: 200,
  durationMs: 12,
});
const MESSAGE = makeEvent({
  topic: 'deploy.done',
  data: { ok: true, version: 'v2', count: 3 },
});

describe('compileExpectation', () => {
  it.each([
    ['status=500 route=/checkout', true, false, false],
    ['status=5xx', true, false, false],
    ['status>=400', true, false, false],
    ['status=>=400', true, false, false],
    ['status!=2xx', true, false, true],
    ['method=post', true, true, false],
    ['method!=GET', true, true, true],
    ['route=/check*', true, true, false],
    ['path=/checkout', true, true, false],
    ['duration>250ms', true, false, false],
    ['duration<=0.1s', false, true, false],
    ['topic=deploy', false, false, true],
    ['topic=http.POST', true, true, false],
    ['topic!=deploy', true, true, false],
    ['data.ok=true', false, false, true],
    ['data.version=v2', false, false, true],
    ['data.count>2', false, false, true],
    ['data.count<3', false, false, false],
    ['data.status=500', true, false, false],
    ['type=dev.zpub.message', false, false, true],
    ['topic=deploy.done data.ok=false', false, false, false],
  ])('%s', (expression, error, ok, message) => {
    const matches = compileExpectation(expression);

    expect(matches(CHECKOUT_ERROR), 'the failed checkout').toBe(error);
    expect(matches(CHECKOUT_OK), 'the good checkout').toBe(ok);
    expect(matches(MESSAGE), 'the application message').toBe(message);
  });

  it.each([
    ['', 'Expected at least one term'],
    ['status', 'Term "status" is not FIELD OPERATOR VALUE'],
    ['status=', 'Term "status=" is not FIELD OPERATOR VALUE'],
    ['=500', 'Term "=500" is not FIELD OPERATOR VALUE'],
    ['data..x=1', 'invalid field "data..x"'],
    ['status=abc', 'Term "status=abc": Invalid status "abc"'],
    ['duration>fast', 'Term "duration>fast": Invalid duration "fast"'],
    ['method>GET', 'method takes only = and !='],
    ['route=checkout', 'Invalid route pattern "checkout"'],
    ['topic=a..b', 'Term "topic=a..b"'],
    ['data.count>many', '> needs a number, got "many"'],
  ])('%j is rejected', (expression, message) => {
    expect(() => compileExpectation(expression)).toThrow(ExpectationError);
    expect(() => compileExpectation(expression)).toThrow(message);
  });
});
