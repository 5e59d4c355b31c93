import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  it,
  onTestFinished,
} from 'vitest';
import { ZSUB_BIN, ZsubProcess, killRunningZsubs } from './helpers.js';
import { startServer, type RunningServer } from './server.js';

const run = promisify(execFile);

// CI installs tmux, so there a missing one is a failure, not a skip.
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skipTmux = !hasTmux && process.env.CI !== 'true';

/** How long a test waits for the terminal to show something. */
const SCREEN_WAIT_MS = 5000;

let server: RunningServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

afterEach(async () => {
  await killRunningZsubs();
});

/** Parses a logfmt line into its fields. */
function parseLogfmt(line: string): Record<string, string> {
  return Object.fromEntries(
    line.split(' ').map((pair) => {
      const equals = pair.indexOf('=');
      return [pair.slice(0, equals), pair.slice(equals + 1)];
    }),
  );
}

function sumField(
  lines: readonly Record<string, string>[],
  key: string,
): number {
  return lines.reduce((sum, fields) => sum + Number(fields[key]), 0);
}

describe('stats on a pipe', () => {
  it('prints one summary line per interval', async () => {
    const zsub = new ZsubProcess([
      'stats',
      '--endpoint',
      server.publish,
      '--interval',
      '0.2',
    ]);
    await zsub.waitForReady();
    // Three request events and the `number` event of /print/1.
    await server.get('/print/1', '/print/x', '/nothing');
    await zsub.waitFor('a line with total=4', () =>
      zsub.stdoutLines.some((line) => line.includes(' total=4 ')),
    );
    zsub.child.kill('SIGINT');

    expect(await zsub.exited).toEqual({ code: 130, signal: null });
    const lines = zsub.stdoutLines.map(parseLogfmt);
    for (const line of zsub.stdoutLines) {
      expect(line).toMatch(
        /^time=\S+Z interval=\d+\.\ds events=\d+ rate=\d+\.\d\/s total=\d+ 1xx=\d+ 2xx=\d+ 3xx=\d+ 4xx=\d+ 5xx=\d+ other=\d+ p50=\S+ p95=\S+ p99=\S+ missed=\d+ invalid=\d+ out_of_order=\d+ restarts=\d+ instances=\d+ live=\d+\/1$/,
      );
    }
    expect(sumField(lines, 'events')).toBe(4);
    expect(sumField(lines, '2xx')).toBe(1);
    expect(sumField(lines, '4xx')).toBe(2);
    expect(lines.at(-1)?.total).toBe('4');
    expect(lines.at(-1)?.instances).toBe('1');
    expect(lines.at(-1)?.live).toBe('1/1');
    const withRequests = lines.find((fields) => fields['4xx'] !== '0');
    expect(withRequests?.p50).toMatch(/^\d+\.\d+ms$/);
  });

  it('--stats is the same and honors filters', async () => {
    const zsub = new ZsubProcess([
      '--stats',
      '--endpoint',
      server.publish,
      '--status',
      '4xx',
      '--interval',
      '0.2',
      '--count',
      '2',
    ]);
    await zsub.waitForReady();
    await server.get('/print/1', '/print/x', '/nothing');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const lines = zsub.stdoutLines.map(parseLogfmt);
    expect(sumField(lines, 'events')).toBe(2);
    expect(sumField(lines, '4xx')).toBe(2);
    expect(sumField(lines, '2xx')).toBe(0);
    expect(lines.at(-1)?.total).toBe('2');
  });
});

describe.skipIf(skipTmux)('stats on a terminal', () => {
  it('draws the view and leaves it on exit', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'zsub-tmux-'));
    // A tmux server of its own, on a socket in a new directory.
    const tmux = (...args: string[]): Promise<{ stdout: string }> =>
      run('tmux', ['-S', join(directory, 'socket'), ...args]);
    onTestFinished(async () => {
      await tmux('kill-server').catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    });
    // -J joins lines that wrapped, such as the long summary line, and keeps
    // trailing spaces, which are trimmed here.
    const capture = async (): Promise<string> => {
      const { stdout } = await tmux('capture-pane', '-p', '-J', '-t', 'zsub');
      return stdout
        .split('\n')
        .map((line) => line.trimEnd())
        .join('\n');
    };
    const waitForScreen = async (
      description: string,
      condition: (screen: string) => boolean,
    ): Promise<string> => {
      const deadline = performance.now() + SCREEN_WAIT_MS;
      let screen = await capture();
      while (!condition(screen)) {
        if (performance.now() > deadline) {
          throw new Error(`timed out waiting for ${description}:\n${screen}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        screen = await capture();
      }
      return screen;
    };

    // The shell prints zsub's exit status and keeps the pane open, so that
    // what zsub leaves on the screen can be read.
    const command = [
      quote(process.execPath),
      quote(ZSUB_BIN),
      'stats',
      '--endpoint',
      quote(server.publish),
      '--interval',
      '0.2',
    ].join(' ');
    await tmux(
      'new-session',
      '-d',
      '-s',
      'zsub',
      '-x',
      '120',
      '-y',
      '40',
      `${command}; echo "exit status $?"; sleep 60`,
    );
    await waitForScreen('the endpoint to be live', (screen) =>
      screen.includes(`${server.publish} live`),
    );
    await server.get('/print/1', '/print/2', '/print/x');
    // Three request events, and the `number` events of the two 200s.
    const screen = await waitForScreen('all five events', (text) =>
      /^since start +\S+ +5 /m.test(text),
    );

    expect(screen).toMatch(
      /^zsub stats +up \d+:\d\d:\d\d +refreshed every 0\.2 s/,
    );
    expect(screen).toMatch(/^publishers +1 instance seen, 0 restarts$/m);
    expect(screen).toMatch(
      /^since start +\S+ +5 +0 +2 +0 +1 +0 +[0-9.]+ +[0-9.]+ +[0-9.]+$/m,
    );
    expect(screen).toMatch(/^number +\S+ +2$/m);
    expect(screen).toMatch(
      /^GET \/print\/:number +\S+ +3 +2 +1 +0 +[0-9.]+ +[0-9.]+ +[0-9.]+$/m,
    );
    expect(screen).toContain('zsub: ready, subscribed to');

    await tmux('send-keys', '-t', 'zsub', 'C-c');
    const after = await waitForScreen('zsub to exit', (text) =>
      text.includes('exit status'),
    );
    expect(after).toContain('exit status 130');
    expect(after).toMatch(/^time=\S+ .* total=5 .*live=1\/1$/m);
    expect(after).not.toContain('since start');
  });
});

/** Quotes a word for sh. */
function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
