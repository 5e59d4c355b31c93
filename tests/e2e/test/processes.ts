import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterEach } from 'vitest';

export const SERVER_BIN = fileURLToPath(
  new URL('../../../apps/server/bin/server.js', import.meta.url),
);
export const ZSUB_BIN = fileURLToPath(
  new URL('../../../apps/sub/bin/zsub.js', import.meta.url),
);

/**
 * Returns a list for a test file's child processes. After each test, every
 * process in it is killed and awaited, and the list is emptied.
 */
export function killedAfterEach(): Child[] {
  const children: Child[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      // A stopped process must run again to die of SIGKILL's exit status.
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  return children;
}

/** A child process whose output lines are kept and can be waited for. */
export class Child {
  readonly process: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  readonly #waiters: {
    stream: 'stdout' | 'stderr';
    test: (line: string) => boolean;
    resolve: (line: string) => void;
  }[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(command, args, {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#watch('stdout');
    this.#watch('stderr');
    this.exited = once(this.process, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as string | null,
    }));
  }

  /** Resolves with the first line on `stream` that passes `test`. */
  waitForLine(
    stream: 'stdout' | 'stderr',
    test: (line: string) => boolean,
    timeoutMs = 10_000,
  ): Promise<string> {
    const seen = this[stream].find(test);
    if (seen !== undefined) {
      return Promise.resolve(seen);
    }

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no matching ${stream} line within ${timeoutMs} ms; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        stream,
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill(signal);
    }
  }

  #watch(stream: 'stdout' | 'stderr'): void {
    const source = this.process[stream];
    if (source === null) {
      return;
    }
    createInterface({ input: source }).on('line', (line) => {
      this[stream].push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.stream === stream && waiter.test(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  }
}

export interface RunningServer {
  child: Child;
  url: string;
  publish: string;
}

interface LogLine {
  msg?: string;
  url?: string;
  publish?: string;
  [field: string]: unknown;
}

/** Parses a pino JSON line, or returns undefined for any other line. */
export function parseLog(line: string): LogLine | undefined {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

/** Returns the messages of the fatal (level 60) lines a server logged. */
export function fatalMessages(child: Child): string[] {
  return child.stdout
    .map(parseLog)
    .filter((log) => log?.level === 60)
    .map((log) => log?.msg ?? '');
}

/** Starts the built server on ephemeral ports and waits until it listens. */
export async function startServer(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningServer> {
  const child = new Child(
    process.execPath,
    [SERVER_BIN, '--port', '0', '--publish', 'tcp://127.0.0.1:0', ...args],
    env,
  );
  const line = await child.waitForLine('stdout', (text) => {
    const log = parseLog(text);
    return log?.url !== undefined && log.publish !== undefined;
  });
  const log = parseLog(line) as LogLine;

  return { child, url: log.url as string, publish: log.publish as string };
}

/** Starts the built zsub and waits for its readiness line. */
export async function startZsub(args: string[]): Promise<Child> {
  const child = new Child(process.execPath, [ZSUB_BIN, ...args]);
  await child.waitForLine('stderr', (line) => line.startsWith('zsub: ready'));

  return child;
}

export interface RunningProxy {
  child: Child;
  frontend: string;
  backend: string;
}

/** Spawns `zsub proxy` on ephemeral ports with `args` and `env` added. */
export function spawnProxy(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Child {
  return new Child(
    process.execPath,
    [
      ZSUB_BIN,
      'proxy',
      '--frontend',
      'tcp://127.0.0.1:0',
      '--backend',
      'tcp://127.0.0.1:0',
      ...args,
    ],
    env,
  );
}

/**
 * Starts `zsub proxy` on ephemeral ports with `args` and `env` added and
 * waits for its ready line.
 */
export async function startProxy(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningProxy> {
  const child = spawnProxy(args, env);
  let line: string;
  try {
    line = await child.waitForLine('stderr', (text) =>
      text.includes('proxy ready'),
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const match = /frontend (\S+), backend ([^\s,]+)/.exec(line);

  return { child, frontend: match?.[1] ?? '', backend: match?.[2] ?? '' };
}

export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

const execFileAsync = promisify(execFile);

/** Makes a key pair with `zsub keygen --out` and reads both keys back. */
export async function keygen(path: string): Promise<KeyPair> {
  const { stdout } = await execFileAsync(process.execPath, [
    ZSUB_BIN,
    'keygen',
    '--out',
    path,
  ]);
  const secretKey = (await readFile(path, 'utf8'))
    .split('\n')
    .find((line) => line !== '' && !line.startsWith('#'));

  return { publicKey: stdout.trim(), secretKey: secretKey ?? '' };
}
