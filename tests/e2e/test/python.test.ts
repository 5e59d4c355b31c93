import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Child, killedAfterEach, startServer } from './processes.js';

const PYTHON = '/usr/bin/python3';
const SUBSCRIBER = fileURLToPath(
  new URL('../../python/zpub_subscriber.py', import.meta.url),
);
const hasPyzmq =
  existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import zmq']).status === 0;
// CI installs pyzmq, so there a missing one is a failure, not a skip.
const skip = !hasPyzmq && process.env.CI !== 'true';

const children = killedAfterEach();

describe.skipIf(skip)('Python subscriber on pyzmq', () => {
  it('receives and decodes the number events', async () => {
    const server = await startServer();
    children.push(server.child);
    const python = new Child(PYTHON, [
      SUBSCRIBER,
      '--endpoint',
      server.publish,
      '--topic',
      'number',
      '--count',
      '3',
      '--timeout',
      '20',
    ]);
    children.push(python);
    await python.waitForLine('stderr', (line) => line.includes('ready'));

    for (const number of [1, 2, 3]) {
      await fetch(`${server.url}/print/${number}`);
    }
    const { code } = await python.exited;
    const events = python.stdout.map(
      (line) => JSON.parse(line) as { topic: string; data: { number: number } },
    );

    expect(code).toBe(0);
    expect(events.map((event) => event.topic)).toEqual([
      'number',
      'number',
      'number',
    ]);
    expect(events.map((event) => event.data.number)).toEqual([1, 2, 3]);
  });
});
