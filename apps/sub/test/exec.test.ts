import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ExecRunner,
  commandInvocation,
  eventEnvironment,
  type ExecOptions,
} from '../src/exec.js';
import { isRunning, makeEvent, requestEvent } from './helpers.js';

let directory: string;
let runners: ExecRunner[];

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'zsub-exec-'));
  runners = [];
});

afterEach(async () => {
  await Promise.all(runners.map((runner) => runner.stop()));
  await rm(directory, { recursive: true, force: true });
});

/** Creates a runner whose warnings are collected, stopped after the test. */
function createRunner(
  command: string,
  options: Partial<ExecOptions> = {},
): { runner: ExecRunner; warnings: string[] } {
  const warnings: string[] = [];
  const runner = new ExecRunner({
    command,
    concurrency: 1,
    timeoutMs: undefined,
    backlog: 100,
    env: { ...process.env, DIR: directory },
    warn: (line) => warnings.push(line),
    ...options,
  });
  runners.push(runner);

  return { runner, warnings };
}

/** A command that appends a line to $DIR/log and waits for $DIR/gate. */
const GATED =
  'echo "$ZSUB_ID" >> "$DIR/log"; while [ ! -e "$DIR/gate" ]; do sleep 0.01; done';

async function readLines(name: string): Promise<string[]> {
  const text = await readFile(join(directory, name), 'utf8');

  return text.split('\n').filter((line) => line !== '');
}

function eventWithId(id: string): ReturnType<typeof makeEvent> {
  return { ...makeEvent({ data: id }), id };
}

describe('commandInvocation', () => {
  it('runs plain words directly', () => {
    expect(commandInvocation('notify-send  zsub event')).toEqual({
      file: 'notify-send',
      args: ['zsub', 'event'],
    });
  });

  it.each([
    'jq .data | tee out',
    'echo $ZSUB_TOPIC',
    'a; b',
    'echo "x y"',
    'ls *.json',
    'A=1 env',
    'a > out',
  ])('runs %j through sh', (command) => {
    expect(commandInvocation(command)).toEqual({
      file: '/bin/sh',
      args: ['-c', command],
    });
  });
});

describe('eventEnvironment', () => {
  it('sets the variables of a request event', () => {
    const event = requestEvent({ status: 404, durationMs: 1.25 });
    const env = eventEnvironment(event, {});

    expect(env).toEqual({
      ZSUB_TOPIC: 'http.GET.print.:number',
      ZSUB_ID: event.id,
      ZSUB_TYPE: 'dev.zpub.http.request',
      ZSUB_SOURCE: event.source,
      ZSUB_SEQUENCE: '1',
      ZSUB_METHOD: 'GET',
      ZSUB_ROUTE: '/print/:number',
      ZSUB_PATH: '/print/7',
      ZSUB_STATUS: '404',
      ZSUB_DURATION_MS: '1.25',
    });
  });

  it('unsets request variables for other events', () => {
    const env = eventEnvironment(makeEvent({ topic: 'number' }), {
      PATH: '/bin',
      ZSUB_TOPIC: 'from-zsub-config',
      ZSUB_METHOD: 'GET',
      ZSUB_STATUS: '500',
    });

    expect(env.PATH).toBe('/bin');
    expect(env.ZSUB_TOPIC).toBe('number');
    expect(env).not.toHaveProperty('ZSUB_METHOD');
    expect(env).not.toHaveProperty('ZSUB_STATUS');
  });

  it('unsets the sequence of an event without one', () => {
    const event = { ...makeEvent(), sequence: undefined };

    expect(eventEnvironment(event, { ZSUB_SEQUENCE: '9' })).not.toHaveProperty(
      'ZSUB_SEQUENCE',
    );
  });

  it('drops NUL characters', () => {
    const event = { ...makeEvent(), id: 'a\u0000b' };

    expect(eventEnvironment(event, {}).ZSUB_ID).toBe('ab');
  });
});

describe('ExecRunner', () => {
  it('writes the event as JSON on stdin', async () => {
    const { runner } = createRunner('cat > "$DIR/event.json"');
    const event = makeEvent({ data: { n: 1 } });

    runner.submit(event);
    await runner.whenIdle();

    const text = await readFile(join(directory, 'event.json'), 'utf8');
    expect(text).toBe(`${JSON.stringify(event)}\n`);
    expect(runner.counts).toMatchObject({ started: 1, succeeded: 1 });
  });

  it('runs events in order at concurrency 1', async () => {
    // Earlier events sleep longer, so that overlapping runs would reorder.
    const { runner } = createRunner(
      'sleep "0.0$ZSUB_ID"; echo "$ZSUB_ID" >> "$DIR/log"',
    );
    const ids = ['5', '4', '3', '2', '1'];
    for (const id of ids) {
      runner.submit(eventWithId(id));
    }
    await runner.whenIdle();

    expect(await readLines('log')).toEqual(ids);
  });

  it('runs at most concurrency commands at once', async () => {
    const { runner } = createRunner(GATED, { concurrency: 2 });
    for (const id of ['a', 'b', 'c', 'd']) {
      runner.submit(eventWithId(id));
    }

    expect(runner.counts.started).toBe(2);
    await writeFile(join(directory, 'gate'), '');
    await runner.whenIdle();
    expect(runner.counts).toMatchObject({ started: 4, succeeded: 4 });
    expect((await readLines('log')).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('skips events past the backlog', async () => {
    const { runner, warnings } = createRunner(GATED, { backlog: 2 });
    const accepted = ['a', 'b', 'c', 'd', 'e'].map((id) =>
      runner.submit(eventWithId(id)),
    );

    expect(accepted).toEqual([true, true, true, false, false]);
    expect(runner.counts.skipped).toBe(2);
    expect(warnings).toEqual([
      'zsub: exec backlog is full (2 events waiting); skipping new events until a command finishes',
    ]);

    await writeFile(join(directory, 'gate'), '');
    await runner.whenIdle();
    expect(runner.submit(eventWithId('f'))).toBe(true);
    await runner.whenIdle();
    expect(warnings[1]).toBe(
      'zsub: skipped 2 events while the exec backlog was full',
    );
    expect(await readLines('log')).toEqual(['a', 'b', 'c', 'f']);
    expect(runner.summary()).toBe(
      'zsub: exec ran 4 commands: 4 succeeded, 0 failed, 2 events skipped with the backlog full',
    );
  });

  it('counts a failure and goes on', async () => {
    const { runner, warnings } = createRunner(
      '[ "$ZSUB_ID" != bad ] || exit 3',
    );
    for (const id of ['ok-1', 'bad', 'ok-2']) {
      runner.submit(eventWithId(id));
    }
    await runner.whenIdle();

    expect(runner.counts).toMatchObject({
      started: 3,
      succeeded: 2,
      failed: 1,
    });
    expect(warnings).toEqual([
      'zsub: exec failed for event bad on topic "number": exit code 3',
    ]);
  });

  it('reports a command that does not exist', async () => {
    const { runner, warnings } = createRunner('zsub-no-such-command arg');
    runner.submit(eventWithId('a'));
    await runner.whenIdle();

    expect(runner.counts).toMatchObject({ failed: 1 });
    expect(warnings).toEqual([
      'zsub: exec failed for event a on topic "number": cannot run zsub-no-such-command: command not found (ENOENT)',
    ]);
  });

  it('kills a command after the timeout', async () => {
    const { runner, warnings } = createRunner('sleep 30', { timeoutMs: 50 });
    runner.submit(eventWithId('a'));
    await runner.whenIdle();

    expect(runner.counts).toMatchObject({ failed: 1, timedOut: 1 });
    expect(warnings).toEqual([
      'zsub: exec failed for event a on topic "number": timed out after 0.05 s and was killed',
    ]);
  });

  it('kills a command that ignores SIGTERM', async () => {
    const { runner } = createRunner(
      `trap '' TERM; echo $$ > "$DIR/pid"; while :; do sleep 0.01; done`,
      { timeoutMs: 50 },
    );
    runner.submit(eventWithId('a'));
    await runner.whenIdle();

    expect(runner.counts.timedOut).toBe(1);
    const pid = Number((await readLines('pid'))[0]);
    await waitUntil(() => !isRunning(pid), 2000);
    expect(isRunning(pid)).toBe(false);
  });

  it('stop ends running commands and their children', async () => {
    const { runner } = createRunner(
      `sleep 30 & echo $! > "$DIR/pid"; echo $$ >> "$DIR/pid"; wait`,
    );
    runner.submit(eventWithId('a'));
    runner.submit(eventWithId('b'));
    await waitForFile(join(directory, 'pid'), 2);
    const pids = (await readLines('pid')).map(Number);
    await runner.stop();
    // The signal to the background sleep may take a moment to land.
    await waitUntil(() => !pids.some(isRunning), 2000);

    expect(pids.map(isRunning)).toEqual([false, false]);
    expect(runner.counts).toMatchObject({ started: 1, stopped: 2 });
    expect(runner.submit(eventWithId('c'))).toBe(false);
  });
});

/** Waits until the file exists and has `lines` lines; bounded by the test timeout. */
async function waitForFile(path: string, lines: number): Promise<void> {
  while (
    !existsSync(path) ||
    (await readFile(path, 'utf8')).split('\n').length <= lines
  ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls `condition` every 10 ms until it is true or `limitMs` passed. */
async function waitUntil(
  condition: () => boolean,
  limitMs: number,
): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!condition() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
