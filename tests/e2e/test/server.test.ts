import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  Child,
  SERVER_BIN,
  parseLog,
  startServer,
  startZsub,
  killedAfterEach,
} from './processes.js';

const children = killedAfterEach();

function get(url: string, agent?: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function runServer(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = new Child(process.execPath, [SERVER_BIN, ...args], env);
  children.push(child);

  return child;
}

describe('server lifecycle', () => {
  it('exits 0 on SIGTERM despite an idle keep-alive connection', async () => {
    const server = await startServer();
    children.push(server.child);
    const agent = new Agent({ keepAlive: true });
    await get(`${server.url}/`, agent);

    server.child.kill('SIGTERM');
    const { code } = await server.child.exited;
    agent.destroy();

    expect(code).toBe(0);
  });

  it('exits 0 on SIGINT', async () => {
    const server = await startServer();
    children.push(server.child);

    server.child.kill('SIGINT');
    const { code } = await server.child.exited;

    expect(code).toBe(0);
  });

  it('delivers events published just before SIGTERM', async () => {
    const server = await startServer();
    children.push(server.child);
    const zsub = await startZsub([
      '--endpoint',
      server.publish,
      '--topic',
      'number',
      '--json',
      '--count',
      '50',
    ]);
    children.push(zsub);

    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        get(`${server.url}/print/${index}`),
      ),
    );
    server.child.kill('SIGTERM');
    const [serverExit, zsubExit] = await Promise.all([
      server.child.exited,
      zsub.exited,
    ]);

    expect(serverExit.code).toBe(0);
    expect(zsubExit.code).toBe(0);
    expect(zsub.stdout).toHaveLength(50);
  });

  it('fails fast when the publish port is in use', async () => {
    const first = await startServer();
    children.push(first.child);

    const second = runServer(['--port', '0', '--publish', first.publish]);
    const { code } = await second.exited;
    const logs = second.stdout.map(parseLog);

    expect(code).toBe(1);
    expect(
      logs.some((log) => /Address already in use/.test(log?.msg ?? '')),
    ).toBe(true);
    expect(logs.some((log) => log?.url !== undefined)).toBe(false);
  });

  it('reports a publish port in use in one line', async () => {
    const first = await startServer();
    children.push(first.child);

    const second = runServer(['--port', '0', '--publish', first.publish]);
    const { code } = await second.exited;
    const output = [...second.stdout, ...second.stderr];
    const mentions = output.join('\n').match(/already in use/gi) ?? [];

    expect(code).toBe(1);
    expect(second.stderr).toEqual([]);
    expect(second.stdout).toHaveLength(1);
    expect(mentions).toHaveLength(1);
    expect(parseLog(second.stdout[0] ?? '')).toMatchObject({
      level: 60,
      endpoint: first.publish,
      msg: `cannot start: cannot bind ${first.publish}: Address already in use (EADDRINUSE). Another process uses that address: pick another port with --publish or ZPUB_PUBLISH (port 0 picks a free one), or stop the other process.`,
    });
    expect(parseLog(second.stdout[0] ?? '')?.err).toBeUndefined();
  });

  it('reports an HTTP port in use in one line', async () => {
    const first = await startServer();
    children.push(first.child);
    const port = new URL(first.url).port;

    const second = runServer([
      '--port',
      port,
      '--publish',
      'tcp://127.0.0.1:0',
    ]);
    const { code } = await second.exited;
    const output = [...second.stdout, ...second.stderr].join('\n');
    const fatal = second.stdout
      .map(parseLog)
      .filter((log) => log?.level === 60);

    expect(code).toBe(1);
    expect(second.stderr).toEqual([]);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({
      address: `127.0.0.1:${port}`,
      msg: `cannot listen on 127.0.0.1:${port}: address already in use. Another process uses that address: pick another port with --port or PORT (0 picks a free one), or stop the other process.`,
    });
    expect(fatal[0]?.err).toBeUndefined();
    expect(output.match(/already in use/gi)).toHaveLength(1);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('fails fast for a host name in the publish endpoint', async () => {
    const child = runServer([
      '--port',
      '0',
      '--publish',
      'tcp://localhost:5555',
    ]);

    const { code } = await child.exited;

    expect(code).toBe(1);
    expect(child.stdout.join('\n')).toMatch(/use an IP address/);
  });

  it('reads flags after a leading --', async () => {
    const child = runServer(['--', '--help']);

    const { code } = await child.exited;

    expect(code).toBe(0);
    expect(child.stdout.join('\n')).toMatch(/Usage: server/);
  });

  it('exits 2 for an unknown flag', async () => {
    const child = runServer(['--bogus']);

    const { code } = await child.exited;

    expect(code).toBe(2);
    expect(child.stderr.join('\n')).toMatch(/unknown option '--bogus'/);
  });

  it('logs each request at debug with LOG_LEVEL=debug', async () => {
    const server = await startServer([], { LOG_LEVEL: 'debug' });
    children.push(server.child);

    await get(`${server.url}/`);
    const line = await server.child.waitForLine(
      'stdout',
      (text) => parseLog(text)?.msg === 'request completed',
    );

    expect(parseLog(line)?.level).toBe(20);
  });

  it('logs no line per request at the default level', async () => {
    const server = await startServer();
    children.push(server.child);

    await get(`${server.url}/`);
    server.child.kill('SIGTERM');
    await server.child.exited;

    expect(server.child.stdout.join('\n')).not.toMatch(/request completed/);
  });
});
