import { readFile } from 'node:fs/promises';
import { Publisher, generateKeyPair } from '@zpub/client';
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
      `zsub: warning: cannot connect to ${endpoint}: nothing accepts connections there yet; retrying`,
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

  it('extra word is named', async () => {
    const result = await runZsub(['foo']);

    expect(result.code).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      'zsub: unknown argument "foo". zsub takes options only, or the subcommand stats, proxy or keygen as its first argument.',
      HELP_POINTER,
    ]);
  });

  it('late subcommand says where it goes', async () => {
    const result = await runZsub(['--endpoint', 'tcp://127.0.0.1:1', 'stats']);

    expect(result.code).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      'zsub: unknown argument "stats". A subcommand must be the first argument, as in "zsub stats [options]".',
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
    [
      ['--status', 'abc'],
      "option '--status <codes>' argument 'abc' is invalid",
    ],
    [
      ['--slower-than', 'fast'],
      "option '--slower-than <duration>' argument 'fast' is invalid. Invalid duration \"fast\"",
    ],
    [
      ['--route', 'orders'],
      "option '--route <pattern>' argument 'orders' is invalid. Invalid route pattern \"orders\"",
    ],
    [
      ['--method', 'GE T'],
      "option '--method <method>' argument 'GE T' is invalid. Invalid method \"GE T\"",
    ],
    [
      ['--format', '{topic'],
      "option '--format <template>' argument '{topic' is invalid. Unclosed \"{\" at position 1",
    ],
    [
      ['--format', '{time:%Q}'],
      "option '--format <template>' argument '{time:%Q}' is invalid. Invalid time directive %Q",
    ],
    [
      ['--expect', 'status'],
      "option '--expect <expr>' argument 'status' is invalid. Term \"status\" is not FIELD OPERATOR VALUE",
    ],
    [
      ['--expect', 'status=abc'],
      'option \'--expect <expr>\' argument \'status=abc\' is invalid. Term "status=abc": Invalid status "abc"',
    ],
    [['--exclude', 'a..b'], "option '--exclude <topic>' argument 'a..b'"],
    [
      ['--exec', ' '],
      "option '--exec <command>' argument ' ' is invalid. Expected a command such as \"cat\".",
    ],
    [
      ['--exec', 'cat', '--concurrency', '0'],
      "option '--concurrency <commands>' argument '0' is invalid. Expected an integer from 1 to 1024.",
    ],
    [
      ['--exec', 'cat', '--exec-timeout', '0'],
      "option '--exec-timeout <seconds>' argument '0'",
    ],
    [
      ['--exec', 'cat', '--exec-backlog', '-1'],
      "option '--exec-backlog <events>' argument '-1'",
    ],
    [
      ['--stats', '--interval', '0.05'],
      "option '--interval <seconds>' argument '0.05' is invalid. Expected a number of seconds at least 0.1",
    ],
    [['--exec', 'cat', '--json'], '--exec cannot be combined with --json'],
    [['--stats', '--exec', 'cat'], '--stats cannot be combined with --exec'],
    [['stats', '--raw'], '--stats cannot be combined with --raw'],
    [
      ['--format', '{id}', '--output', 'json'],
      '--format cannot be combined with --output',
    ],
    [
      ['--expect', 'status=500', '--count', '2'],
      '--expect cannot be combined with --count',
    ],
    [['--concurrency', '2'], '--concurrency needs --exec'],
    [['--exec-timeout', '2'], '--exec-timeout needs --exec'],
    [['--interval', '2'], '--interval needs --stats'],
    [['--endpoint', ','], "option '-e, --endpoint <url>' argument ','"],
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

describe('invalid endpoints', () => {
  const passHint =
    ' Pass --endpoint tcp://HOST:PORT, ipc://PATH or nats://HOST:PORT, or use --host and --port.';

  it.each([
    [
      ['foo://x'],
      'zsub: invalid endpoint "foo://x": the scheme must be tcp://, ipc://, inproc:// or nats://.',
    ],
    [
      ['tcp://127.0.0.1'],
      'zsub: invalid endpoint "tcp://127.0.0.1": expected tcp://HOST:PORT, ipc://PATH or inproc://NAME.',
    ],
    [
      ['tcp://127.0.0.1:0'],
      'zsub: invalid endpoint "tcp://127.0.0.1:0": port "0" is not a number from 1 to 65535.',
    ],
    [
      ['tcp://*:5555'],
      'zsub: invalid endpoint "tcp://*:5555": the host * is valid only for bind. Use the IP address or host name of the publisher.',
    ],
    [
      ['tcp://::1:5555'],
      'zsub: invalid endpoint "tcp://::1:5555": put the IPv6 address in brackets: tcp://[::1]:5555.',
    ],
    [
      ['tcp://[127.0.0.1]:5555'],
      'zsub: invalid endpoint "tcp://[127.0.0.1]:5555": "127.0.0.1" in brackets is not an IPv6 address.',
    ],
    [['ipc://'], 'zsub: invalid endpoint "ipc://": a path must follow ipc://.'],
    [
      ['inproc://events'],
      'zsub: invalid endpoint "inproc://events": an inproc endpoint reaches only sockets inside the same process.',
    ],
    [
      ['nats://127.0.0.1:65536'],
      'zsub: invalid endpoint "nats://127.0.0.1:65536": port 65536 is not a number from 1 to 65535.',
    ],
    [
      ['nats://user@127.0.0.1:4222'],
      'zsub: invalid endpoint "nats://user@127.0.0.1:4222": credentials in the URL are not supported; use a NATS server without authentication or a local leaf node.',
    ],
    [
      ['nats://localhost/path'],
      'zsub: invalid endpoint "nats://localhost/path": expected nats://HOST:PORT, such as nats://127.0.0.1:4222.',
    ],
    [
      ['nats://127.0.0.1:4222', 'tcp://127.0.0.1:5555'],
      'zsub: invalid endpoint "nats://127.0.0.1:4222, tcp://127.0.0.1:5555": nats:// endpoints cannot be mixed with ZeroMQ endpoints.',
    ],
  ])('%j exits 2', async (endpoints, message) => {
    const result = await runZsub(
      endpoints.flatMap((endpoint) => ['--endpoint', endpoint]),
    );

    expect(result.code).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([`${message}${passHint}`, HELP_POINTER]);
  });

  it('from ZSUB_ENDPOINT exits 2', async () => {
    const result = await runZsub([], { ZSUB_ENDPOINT: 'foo://x' });

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      `zsub: invalid endpoint "foo://x": the scheme must be tcp://, ipc://, inproc:// or nats://.${passHint}`,
      HELP_POINTER,
    ]);
  });

  it('ipc path too long exits 2', async () => {
    // Linux limits a Unix domain socket path to 108 bytes, so libzmq rejects
    // this one when zsub connects.
    const endpoint = `ipc:///tmp/${'a'.repeat(150)}`;
    const result = await runZsub(['--endpoint', endpoint]);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      `zsub: cannot connect to ${endpoint}: File name too long (ENAMETOOLONG). Check the address or path in the endpoint.`,
      HELP_POINTER,
    ]);
  });

  it('CURVE keys with NATS exit 2', async () => {
    const { publicKey } = generateKeyPair();
    const result = await runZsub([
      '--endpoint',
      'nats://127.0.0.1:4222',
      '--server-key',
      publicKey,
    ]);

    expect(result.code).toBe(2);
    expect(result.stderr).toEqual([
      "zsub: --server-key applies to ZeroMQ endpoints only: drop --server-key or ZSUB_SERVER_KEY for a nats:// endpoint, which uses the NATS server's TLS and credentials",
      HELP_POINTER,
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
      '--format <template>',
      '--exclude <topic>',
      '--method <method>',
      '--route <pattern>',
      '--status <codes>',
      '--slower-than <duration>',
      '--expect <expr>',
      '--exec <command>',
      '--concurrency <commands>',
      '--exec-timeout <seconds>',
      '--exec-backlog <events>',
      '--stats',
      '--interval <seconds>',
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

  it('zsub stats --help prints the same help', async () => {
    const help = await runZsub(['--help']);
    const statsHelp = await runZsub(['stats', '--help']);

    expect(statsHelp.code).toBe(0);
    expect(statsHelp.stdout).toEqual(help.stdout);
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
