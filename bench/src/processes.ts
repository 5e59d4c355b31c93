import {
  spawn,
  type ChildProcess,
  type StdioOptions,
} from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CommandMessage, ReadyMessage, ReplyMessage } from './ipc.js';

/** The core of the process under test: the server, or the publisher. */
export const SERVER_CORE = 1;

/** The core of everything else: load generators and subscribers. */
export const LOAD_CORE = 0;

const children = new Set<ChildProcess>();
const STARTUP_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 15_000;

/** Returns the path of a built worker script next to this file. */
export function workerScript(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

/**
 * Starts `command` pinned to one core with taskset. Every process started
 * here is killed when the harness exits, on success, failure or a signal.
 */
export function spawnPinned(
  core: number,
  command: string,
  args: readonly string[],
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
): ChildProcess {
  const child = spawn('taskset', ['-c', String(core), command, ...args], {
    stdio,
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));

  return child;
}

/** Sends SIGKILL to every child still running. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }
  children.clear();
}

let cleanupInstalled = false;

/** Maximum wait for the exit tasks after a signal, in ms. */
const EXIT_TASKS_TIMEOUT_MS = 3000;

const exitTasks = new Set<() => Promise<void>>();

/**
 * Registers `task` to run when a signal stops the harness, after the
 * children are killed, such as deleting a stream a suite created on a
 * broker. A suite that ends on its own cleans up itself and calls the
 * returned function to unregister the task.
 */
export function addExitTask(task: () => Promise<void>): () => void {
  exitTasks.add(task);

  return () => exitTasks.delete(task);
}

/** Makes sure no child outlives the harness, whatever ends it. */
export function installCleanup(): void {
  if (cleanupInstalled) {
    return;
  }
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAllChildren();
      if (stopping) {
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`bench: stopped by ${signal}\n`);
      const tasks = [...exitTasks].map((task) =>
        task().catch((error: unknown) => {
          process.stderr.write(
            `bench: cleanup after ${signal} failed: ${(error as Error).message}\n`,
          );
        }),
      );
      const timer = setTimeout(() => process.exit(130), EXIT_TASKS_TIMEOUT_MS);
      void Promise.all(tasks).then(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

/** Collects a child's output so that a failure can show it. */
export function captureOutput(child: ChildProcess): () => string {
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  return () => output;
}

/**
 * A Node.js worker of this package, pinned to a core, that takes commands
 * over IPC (see ipc.ts).
 */
export class Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.output = captureOutput(child);
    child.on('message', (message: ReplyMessage | ReadyMessage) => {
      if ('id' in message) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error !== undefined) {
          pending?.reject(new Error(`${name}: ${message.error}`));
        } else {
          pending?.resolve(message.result);
        }
      }
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) {
        reject(
          new Error(`${name} exited (${code ?? signal}): ${this.output()}`),
        );
      }
      this.#pending.clear();
    });
  }

  /** The process id; taskset execs the command, so it is node's own. */
  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) {
      throw new Error(`${this.name} has no process id`);
    }

    return pid;
  }

  /** Starts a worker script and resolves once it reports ready. */
  static async start(
    name: string,
    core: number,
    script: string,
    args: readonly string[],
  ): Promise<{ worker: Worker; info: Record<string, unknown> }> {
    const child = spawnPinned(
      core,
      process.execPath,
      [workerScript(script), ...args],
      ['ignore', 'pipe', 'pipe', 'ipc'],
    );
    const worker = new Worker(name, child);
    const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${name} did not start in ${STARTUP_TIMEOUT_MS} ms: ${worker.output()}`,
          ),
        );
      }, STARTUP_TIMEOUT_MS);
      child.on('message', (message: ReadyMessage | ReplyMessage) => {
        if ('type' in message && message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.info);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${name} exited (${code ?? signal}) while starting: ${worker.output()}`,
          ),
        );
      });
    });

    return { worker, info: await ready };
  }

  /** Runs a command in the worker and resolves with its result. */
  call<T>(command: string, argument?: unknown): Promise<T> {
    const id = this.#nextId++;
    const message: CommandMessage = { id, command, argument };

    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new Error(
            `${this.name}: ${command} timed out after ${COMMAND_TIMEOUT_MS} ms`,
          ),
        );
      }, COMMAND_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send(message);
    });
  }

  /** Asks the worker to exit, and kills it if it has not after a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs a command to completion and returns its stdout; rejects on failure. */
export async function runPinned(
  core: number,
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const child = spawnPinned(core, command, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'exit')) as [
    number | null,
    string | null,
  ];
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${code ?? signal}): ${stderr.trim() || stdout.trim()}`,
    );
  }

  return stdout;
}
