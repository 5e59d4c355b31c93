import { readFile } from 'node:fs/promises';
import { Publisher } from '@zpub/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZsubProcess, killRunningZsubs, runZsub } from './helpers.js';

const HELP_POINTER = "Run 'zsub --help' for usage.";

let publisher: Publisher;

beforeEach(async () => {
  publisher = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
});

afterEach(async () => {
  await killRunningZsubs();
  await publisher.close();
});

/** Returns true for a line that only a Node.js error or stack trace prints. */
function isStackLine(line: string): boolean {
  return /^\s+at /.test(line) || /Error:/.test(line);
}

describe('--count', () => {
  it('exits 0 after that many events', async () => {
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '2',
    ]);
    await zsub.waitForReady();
    publisher.publish('number', 1);
    publisher.publish('number', 2);
    publisher.publish('number', 3);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['1', '2']);
    expect(zsub.stderrLines).toHaveLength(1);
  });
});

describe('--timeout', () => {
  it('exits 124 when no event arrives', async () => {
    const started = Date.now();
    const result = await runZsub([
      '--endpoint',
      publisher.endpoint,
      '--timeout',
      '0.3',
    ]);

    expect(result.code).toBe(124);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      `zsub: ready, subscribed to ${publisher.endpoint} (topics: all)`,
      'zsub: timed out after 0.3 s, received 0 events',
    ]);
  });

  it('exits 124 before --count is reached', async () => {
    const zsub = new ZsubProcess([
      '--endpoint',
      publisher.endpoint,
      '--raw',
      '--count',
      '3',
      '--timeout',
      '1',
    ]);
    await zsub.waitForReady();
    publisher.publish('number', 1);

    expect(await zsub.exited).toEqual({ code: 124, signal: null });
    expect(zsub.stdoutLines).toEqual(['1']);
    expect(zsub.stderrLines.at(-1)).toBe(
      'zsub: timed out after 1 s, received 1 of 3 events',
    );
  });

  it('exits 124 with no publisher and no ready line', async () => {
    const unused = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
    const endpoint = unused.endpoint;
    await unused.close();
    const result = await runZsub(['--endpoint', endpoint, '--timeout', '0.3']);

    expect(result.code).toBe(124);
    expect(result.stderr).toEqual([
      'zsub: timed out after 0.3 s, received 0 events',
    ]);
  });
});

describe('signals', () => {
  it('SIGINT exits with code 130', async () => {
    const zsub = new ZsubProcess(['--endpoint', publisher.endpoint]);
    await zsub.waitForReady();
    const sent = performance.now();
    zsub.child.kill('SIGINT');
    const status = await zsub.exited;
    const elapsedMs = performance.now() - sent;

    expect(status).toEqual({ code: 130, signal: null });
    // zsub should exit within 300 ms. The bound is far looser, so that a
    // loaded machine does not fail the test.
    expect(elapsedMs, `exit took ${elapsedMs.toFixed(0)} ms`).toBeLessThan(
      2000,
    );
    expect(zsub.stderrLines.filter(isStackLine)).toEqual([]);
    expect(zsub.stderrLines).toHaveLength(1);
  });

  it('SIGTERM exits with code 143', async () => {
    const zsub = new ZsubProcess(['--endpoint', publisher.endpoint]);
    await zsub.waitForReady();
    zsub.child.kill('SIGTERM');

    expect(await zsub.exited).toEqual({ code: 143, signal: null });
    expect(zsub.stderrLines).toHaveLength(1);
  });
});

describe('closed stdout', () => {
  it('exits 0 without a stack trace', async () => {
    const zsub = new ZsubProcess(['--endpoint', publisher.endpoint, '--json']);
    await zsub.waitForReady();
    publisher.publish('number', 1);
    publisher.publish('number', 2);
    publisher.publish('number', 3);
    await zsub.waitForStdoutLines(3);
    // What `zsub --json | head -3` does once head has its three lines.
    zsub.child.stdout.destroy();

    // zsub notices the closed pipe on its next write, so keep publishing.
    // The loop is bounded so that a zsub that never exits fails the test.
    let published = 0;
    const timer = setInterval(() => {
      if (published < 200) {
        publisher.publish('number', published++);
      }
    }, 10);
    const status = await zsub.exited;
    clearInterval(timer);

    expect(status).toEqual({ code: 0, signal: null });
    expect(zsub.stderrLines).toEqual([
      `zsub: ready, subscribed to ${publisher.endpoint} (topics: all)`,
    ]);
  });
});

describe('usage errors', () => {
  it('unknown option exits 2', async () => {
    const result = await runZsub(['--bogus']);

    expect(result.code).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      "zsub: unknown option '--bogus'",
      HELP_POINTER,
    ]);
  });

  it('misspelt option suggests a fix', async () => {
    const result = await runZsub(['--topc', 'number']);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      "zsub: unknown option '--topc' (Did you mean --topic?)",
      HELP_POINTER,
    ]);
  });

  it.each([['0'], ['65536'], ['-1'], ['abc'], ['80.5'], ['']])(
    '--port %j exits 2',
    async (port) => {
      const result = await runZsub(['--port', port]);

      expect(result.code).toBe(2);
      expect(result.stderr).toEqual([
        `zsub: option '-p, --port <port>' argument '${port}' is invalid. Expected an integer from 1 to 65535.`,
        HELP_POINTER,
      ]);
    },
  );

  it.each([
    [['--count', '0'], "option '-n, --count <events>' argument '0'"],
    [['--count', '1.5'], "option '-n, --count <events>' argument '1.5'"],
    [['--timeout', '0'], "option '--timeout <seconds>' argument '0'"],
    [['--timeout', 'soon'], "option '--timeout <seconds>' argument 'soon'"],
    [['--output', 'xml'], "option '-o, --output <format>' argument 'xml'"],
    [['--topic', 'a..b'], "option '-t, --topic <topic>' argument 'a..b'"],
    [['--topic', 'a b'], "option '-t, --topic <topic>' argument 'a b'"],
    [['--host', 'a/b'], "option '--host <host>' argument 'a/b'"],
    [
      ['--max-message-size', '0'],
      "option '--max-message-size <bytes>' argument '0'",
    ],
    [['--json', '--raw'], '--json cannot be combined with --raw'],
    [['--raw', '--output', 'json'], '--raw cannot be combined with --output'],
    [
      ['--endpoint', 'tcp://127.0.0.1:1', '--port', '2'],
      '--endpoint cannot be combined with --host or --port',
    ],
    [['extra'], 'too many arguments'],
  ])('%j exits 2', async (args, message) => {
    const result = await runZsub(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toHaveLength(2);
    expect(result.stderr[0]).toContain(`zsub: ${message}`);
    expect(result.stderr[1]).toBe(HELP_POINTER);
  });

  it('invalid environment value exits 2', async () => {
    const result = await runZsub([], { ZSUB_PORT: 'http' });

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      "zsub: option '-p, --port <port>' value 'http' from env 'ZSUB_PORT' is invalid. Expected an integer from 1 to 65535.",
      HELP_POINTER,
    ]);
  });

  it('invalid ZSUB_QUIET exits 2', async () => {
    const result = await runZsub([], { ZSUB_QUIET: 'maybe' });

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      'zsub: invalid ZSUB_QUIET "maybe": expected 1, true, 0 or false',
      HELP_POINTER,
    ]);
  });

  it('timeout names its limit', async () => {
    const result = await runZsub(['--timeout', '2147484']);

    expect(result.code).toBe(2);
    expect(result.stderr[0]).toContain(
      'Expected a number of seconds above 0 and at most 2147483.',
    );
  });
});

describe('runtime errors', () => {
  it.each([
    [
      'foo://x',
      'zsub: invalid endpoint "foo://x": the scheme must be tcp://, ipc:// or inproc://.',
    ],
    [
      'tcp://127.0.0.1',
      'zsub: invalid endpoint "tcp://127.0.0.1": expected tcp://HOST:PORT, ipc://PATH or inproc://NAME.',
    ],
    [
      'inproc://events',
      'zsub: invalid endpoint "inproc://events": an inproc endpoint reaches only sockets inside the same process.',
    ],
  ])('endpoint %j exits 1', async (endpoint, message) => {
    const result = await runZsub(['--endpoint', endpoint]);

    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      `${message} Pass --endpoint tcp://HOST:PORT or ipc://PATH, or use --host and --port.`,
    ]);
  });

  it('failed connect exits 1', async () => {
    // Linux limits a Unix domain socket path to 108 bytes, so libzmq fails to
    // connect to this one.
    const endpoint = `ipc:///tmp/${'a'.repeat(150)}`;
    const result = await runZsub(['--endpoint', endpoint]);

    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([
      `zsub: cannot connect to ${endpoint}: File name too long (ENAMETOOLONG). Check the address or path in the endpoint.`,
    ]);
  });
});

describe('help', () => {
  it('exits 0 and lists every option', async () => {
    const result = await runZsub(['--help']);

    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([]);
    const help = result.stdout.join('\n');
    for (const option of [
      '--topic <topic>',
      '--host <host>',
      '--port <port>',
      '--endpoint <url>',
      '--output <format>',
      '--json',
      '--raw',
      '--no-color',
      '--count <events>',
      '--timeout <seconds>',
      '--max-message-size <bytes>',
      '--quiet',
      '--version',
      '--help',
    ]) {
      expect(help).toContain(option);
    }
  });

  it('matches the README', async () => {
    const result = await runZsub(['--help']);
    const readme = await readFile(
      new URL('../README.md', import.meta.url),
      'utf8',
    );
    const help = `${result.stdout.join('\n')}\n`;

    expect(readme).toContain(`\`\`\`text\n${help}\`\`\``);
  });

  it('--version prints the package version', async () => {
    const packageJson = JSON.parse(
      await readFile(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const result = await runZsub(['--version']);

    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([packageJson.version]);
  });
});
