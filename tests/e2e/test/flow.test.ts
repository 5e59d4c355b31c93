import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  killedAfterEach,
  parseLog,
  startServer,
  startZsub,
} from './processes.js';

const children = killedAfterEach();

function get(
  url: string,
  agent?: Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

interface PrintedEvent {
  topic: string;
  sequence: string;
  data: { number: number };
}

describe('server and zsub', () => {
  it('prints the three number events in order', async () => {
    const server = await startServer();
    children.push(server.child);
    const zsub = await startZsub([
      '--endpoint',
      server.publish,
      '--topic',
      'number',
      '--json',
      '--count',
      '3',
    ]);
    children.push(zsub);

    for (const number of [1, 2, 3]) {
      const response = await get(`${server.url}/print/${number}`);
      expect(response.body).toBe(`Number ${number}`);
    }
    const { code } = await zsub.exited;
    const events = zsub.stdout.map((line) => JSON.parse(line) as PrintedEvent);

    expect(code).toBe(0);
    expect(events.map((event) => event.topic)).toEqual([
      'number',
      'number',
      'number',
    ]);
    expect(events.map((event) => event.data.number)).toEqual([1, 2, 3]);
    expect(events.map((event) => event.sequence)).toEqual(['1', '2', '3']);
  });

  it('delivers a burst of 5,000 requests at concurrency 200', async () => {
    const total = 5000;
    const server = await startServer();
    children.push(server.child);
    const zsub = await startZsub([
      '--endpoint',
      server.publish,
      '--topic',
      'number',
      '--json',
      '--count',
      String(total),
    ]);
    children.push(zsub);
    const agent = new Agent({ keepAlive: true, maxSockets: 200 });

    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < total) {
          const number = next++;
          const response = await get(`${server.url}/print/${number}`, agent);
          statuses.push(response.status);
        }
      }),
    );
    agent.destroy();
    const { code } = await zsub.exited;
    server.child.kill('SIGTERM');
    await server.child.exited;
    const events = zsub.stdout.map((line) => JSON.parse(line) as PrintedEvent);
    const sequences = events.map((event) => Number(event.sequence));
    const numbers = new Set(events.map((event) => event.data.number));
    const closed = server.child.stdout
      .map(parseLog)
      .find((log) => log?.msg === 'zpub publisher closed');

    expect(statuses.filter((status) => status === 200)).toHaveLength(total);
    expect(code).toBe(0);
    expect(events).toHaveLength(total);
    expect(sequences).toEqual(
      Array.from({ length: total }, (_, index) => index + 1),
    );
    expect(numbers.size).toBe(total);
    expect(closed?.zpub).toMatchObject({ sendErrors: 0, dropped: 0 });
    expect(zsub.stderr.join('\n')).not.toMatch(/missed|EBUSY/);
  });
});
