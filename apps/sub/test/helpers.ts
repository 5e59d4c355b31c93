import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HELLO_PREFIX, createEvent, type ZpubEvent } from '@zpub/protocol';
import { XPublisher } from 'zeromq';

/** The built CLI, as npm links it. */
export const ZSUB_BIN = fileURLToPath(
  new URL('../bin/zsub.js', import.meta.url),
);

/**
 * How long a test waits for output it expects from zsub, in milliseconds.
 * Every wait ends as soon as the output arrives, so this only bounds a failure.
 */
const WAIT_LIMIT_MS = 5000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Condition = () => boolean;

interface Waiter {
  condition: Condition;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A running zsub with its output collected line by line. */
export class ZsubProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exited: Promise<ExitStatus>;
  #stdout = '';
  #stderr = '';
  #status: ExitStatus | undefined;
  readonly #waiters = new Set<Waiter>();

  constructor(args: readonly string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [ZSUB_BIN, ...args], {
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => {
      this.#stdout += text;
      this.#check();
    });
    this.child.stderr.on('data', (text: string) => {
      this.#stderr += text;
      this.#check();
    });
    this.exited = new Promise((resolve) => {
      // 'close' comes after both pipes have ended, so all output is in.
      this.child.on('close', (code, signal) => {
        this.#status = { code, signal };
        this.#check();
        resolve(this.#status);
      });
    });
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  /** Complete lines written to stdout so far. */
  get stdoutLines(): string[] {
    return completeLines(this.#stdout);
  }

  /** Complete lines written to stderr so far. */
  get stderrLines(): string[] {
    return completeLines(this.#stderr);
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for the ready line and returns it. */
  async waitForReady(): Promise<string> {
    await this.waitFor('the ready line', () =>
      this.stderrLines.some((line) => line.startsWith('zsub: ready')),
    );

    return this.stderrLines.find((line) =>
      line.startsWith('zsub: ready'),
    ) as string;
  }

  /** Waits until stdout has at least `count` lines and returns them all. */
  async waitForStdoutLines(count: number): Promise<string[]> {
    await this.waitFor(
      `${count} lines on stdout`,
      () => this.stdoutLines.length >= count,
    );

    return this.stdoutLines;
  }

  /** Waits until a stderr line contains `text`. */
  async waitForStderr(text: string): Promise<void> {
    await this.waitFor(`a stderr line with ${JSON.stringify(text)}`, () =>
      this.stderrLines.some((line) => line.includes(text)),
    );
  }

  /**
   * Resolves once `condition` holds, checked after each chunk of output.
   * Rejects when zsub exits first or after {@link WAIT_LIMIT_MS}, with the
   * output so far in the message.
   */
  waitFor(description: string, condition: Condition): Promise<void> {
    if (condition()) {
      return Promise.resolve();
    }

    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        condition,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(this.#failure(`timed out waiting for ${description}`));
        }, WAIT_LIMIT_MS),
      };
      this.#waiters.add(waiter);
    });
  }

  #check(): void {
    for (const waiter of this.#waiters) {
      if (waiter.condition()) {
        this.#settle(waiter);
        waiter.resolve();
      } else if (this.#status !== undefined) {
        this.#settle(waiter);
        waiter.reject(
          this.#failure(`zsub exited with ${JSON.stringify(this.#status)}`),
        );
      }
    }
  }

  #settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#waiters.delete(waiter);
  }

  #failure(message: string): Error {
    return new Error(
      `${message}\n--- stdout\n${this.#stdout}\n--- stderr\n${this.#stderr}`,
    );
  }
}

const running = new Set<ZsubProcess>();

/** Kills every zsub still running; for afterEach. */
export async function killRunningZsubs(): Promise<void> {
  const processes = [...running];
  for (const zsub of processes) {
    zsub.child.kill('SIGKILL');
  }
  await Promise.all(processes.map((zsub) => zsub.exited));
}

/** Runs zsub to its end and returns its status and output. */
export async function runZsub(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ExitStatus & { stdout: string[]; stderr: string[] }> {
  const zsub = new ZsubProcess(args, env);
  const status = await zsub.exited;

  return { ...status, stdout: zsub.stdoutLines, stderr: zsub.stderrLines };
}

/**
 * Returns this process's environment without the variables that change how
 * zsub behaves, plus `extra`.
 */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      !name.startsWith('ZSUB_') &&
      name !== 'NO_COLOR' &&
      name !== 'FORCE_COLOR'
    ) {
      env[name] = value;
    }
  }

  return { ...env, ...extra };
}

function completeLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop();

  return lines;
}

/**
 * A ZeroMQ XPUB socket that sends frames exactly as given, for messages that
 * zpub's own publisher never sends. With `replyToHello` it sends the hello
 * reply to each subscriber as zpub's publisher does. Without, it behaves like
 * a publisher that is not zpub's, and the subscriber assumes it is live 500 ms
 * after the handshake.
 */
export class RawPublisher {
  readonly endpoint: string;
  /**
   * Resolves when the first subscriber's hello subscription arrives, after
   * the reply when there is one. libzmq applies a subscription before it
   * passes it up, and the hello comes after the topic filters, so messages
   * sent from then on reach that subscriber.
   */
  readonly helloReceived: Promise<void>;
  readonly #socket: XPublisher;
  readonly #replyToHello: boolean;
  #markHelloReceived: () => void = () => undefined;
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    socket: XPublisher,
    endpoint: string,
    replyToHello: boolean,
  ) {
    this.#socket = socket;
    this.endpoint = endpoint;
    this.#replyToHello = replyToHello;
    this.helloReceived = new Promise(
      (resolve) => (this.#markHelloReceived = resolve),
    );
  }

  static async open(options: { replyToHello: boolean }): Promise<RawPublisher> {
    const socket = new XPublisher({ linger: 0 });
    await socket.bind('tcp://127.0.0.1:*');
    const publisher = new RawPublisher(
      socket,
      socket.lastEndpoint as string,
      options.replyToHello,
    );
    void publisher.#readSubscriptions();

    return publisher;
  }

  /** Sends one message, after every earlier one. */
  send(frames: ReadonlyArray<string | Uint8Array>): Promise<void> {
    const sent = this.#tail.then(() => this.#socket.send([...frames]));
    this.#tail = sent.catch(() => undefined);

    return sent;
  }

  close(): void {
    this.#closed = true;
    this.#socket.close();
  }

  async #readSubscriptions(): Promise<void> {
    try {
      while (!this.#closed) {
        const [frame] = await this.#socket.receive();
        const filter = frame?.subarray(1).toString('utf8') ?? '';
        if (frame?.[0] === 1 && filter.startsWith(HELLO_PREFIX)) {
          if (this.#replyToHello) {
            await this.send([filter, '{}']);
          }
          this.#markHelloReceived();
        }
      }
    } catch (error) {
      if (!this.#closed) {
        throw error;
      }
    }
  }
}

/** Builds a valid event as zpub's publisher would, with overrides. */
export function makeEvent(
  fields: {
    topic?: string;
    sequence?: number;
    instance?: string;
    source?: string;
    time?: string;
    data?: unknown;
  } = {},
): ZpubEvent {
  return createEvent({
    id: randomUUID(),
    source: fields.source ?? 'zpub://test/tcp/127.0.0.1:1',
    type: 'dev.zpub.message',
    time: fields.time ?? new Date().toISOString(),
    topic: fields.topic ?? 'number',
    sequence: fields.sequence ?? 1,
    instance: fields.instance ?? randomUUID(),
    data: fields.data ?? null,
  });
}
