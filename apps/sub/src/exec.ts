import { spawn, type ChildProcess } from 'node:child_process';
import type { ZpubEvent } from '@zpub/protocol';
import { requestData } from './filters.js';
import { PREFIX, printable } from './notices.js';

/**
 * Characters that make zsub run a command through `/bin/sh -c`. A command
 * without them is a list of words separated by spaces, which sh would run
 * the same way, so zsub starts the program directly and saves starting sh.
 * GNU make takes the same shortcut for recipe lines.
 */
const SHELL_CHARACTERS = /[\\'"`$&|;<>(){}[\]*?~#!=\n\r\t]/;

/** How long a child has to exit after SIGTERM before it gets SIGKILL. */
export const KILL_GRACE_MS = 1000;

/**
 * How long zsub waits for children to exit after SIGTERM when it stops, in
 * milliseconds, before it sends SIGKILL. Short, so that Ctrl-C ends zsub
 * quickly.
 */
export const STOP_GRACE_MS = 100;

/** Failure lines printed per window; further failures are only counted. */
const FAILURE_LINES_PER_WINDOW = 10;
const FAILURE_WINDOW_MS = 10_000;

/** Variables zsub sets for request events only, unset for other events. */
const REQUEST_VARIABLES = [
  'ZSUB_METHOD',
  'ZSUB_ROUTE',
  'ZSUB_PATH',
  'ZSUB_STATUS',
  'ZSUB_DURATION_MS',
] as const;

export interface ExecOptions {
  command: string;
  /** Children that run at once; 1 runs the events strictly in order. */
  concurrency: number;
  /** Time after which a child is killed, or undefined for none. */
  timeoutMs: number | undefined;
  /** Events that wait while `concurrency` children run. */
  backlog: number;
  /** Environment of every child, before the event's variables. */
  env: NodeJS.ProcessEnv;
  /** Writes a warning line, such as a failure, to stderr. */
  warn: (line: string) => void;
}

/** Counts of an {@link ExecRunner} so far. */
export interface ExecCounts {
  started: number;
  succeeded: number;
  failed: number;
  /** Children killed by --exec-timeout; they count as failed too. */
  timedOut: number;
  /** Events dropped because the backlog was full. */
  skipped: number;
  /** Children killed, and waiting events dropped, when zsub stopped. */
  stopped: number;
}

/** The program and arguments that run a command. */
export interface Invocation {
  file: string;
  args: string[];
}

/** Returns how zsub runs a command: directly, or through `/bin/sh -c`. */
export function commandInvocation(command: string): Invocation {
  if (SHELL_CHARACTERS.test(command)) {
    return { file: '/bin/sh', args: ['-c', command] };
  }
  const [file = '', ...args] = command.split(' ').filter((word) => word);

  return { file, args };
}

/**
 * Returns the environment of the child for one event: `base` with
 * ZSUB_TOPIC, ZSUB_ID, ZSUB_TYPE, ZSUB_SOURCE and ZSUB_SEQUENCE, and for a
 * request event ZSUB_METHOD, ZSUB_ROUTE, ZSUB_PATH, ZSUB_STATUS and
 * ZSUB_DURATION_MS. A variable whose value the event lacks is unset, even
 * when `base` has it.
 */
export function eventEnvironment(
  event: ZpubEvent,
  base: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of [...REQUEST_VARIABLES, 'ZSUB_SEQUENCE']) {
    delete env[name];
  }
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined) {
      // A NUL cannot be passed in the environment; the event's JSON on stdin
      // keeps the exact value.
      env[name] = String(value).replace(/\0/g, '');
    }
  };

  set('ZSUB_TOPIC', event.topic ?? '');
  set('ZSUB_ID', event.id);
  set('ZSUB_TYPE', event.type);
  set('ZSUB_SOURCE', event.source);
  set(
    'ZSUB_SEQUENCE',
    typeof event.sequence === 'string' || typeof event.sequence === 'number'
      ? event.sequence
      : undefined,
  );
  const data = requestData(event);
  if (data !== undefined) {
    set('ZSUB_METHOD', data.method);
    set('ZSUB_ROUTE', data.route);
    set('ZSUB_PATH', data.path);
    set('ZSUB_STATUS', data.status);
    set('ZSUB_DURATION_MS', data.durationMs);
  }

  return env;
}

interface RunningChild {
  process: ChildProcess;
  exited: Promise<void>;
}

/**
 * Runs a command for each event, at most `concurrency` at a time, with the
 * event as JSON on stdin. Events wait in a backlog of at most `backlog`
 * events while every slot is busy, and events beyond it are skipped and
 * reported. A failing child is counted and reported and never stops the
 * runner.
 */
export class ExecRunner {
  readonly #options: ExecOptions;
  readonly #invocation: Invocation;
  readonly #waiting: ZpubEvent[] = [];
  readonly #running = new Set<RunningChild>();
  readonly #counts: ExecCounts = {
    started: 0,
    succeeded: 0,
    failed: 0,
    timedOut: 0,
    skipped: 0,
    stopped: 0,
  };
  #skippedWhileFull = 0;
  #stopping = false;
  #idleWaiters: (() => void)[] = [];
  #failureWindowStart = -Infinity;
  #failureLinesInWindow = 0;
  #hiddenFailures = 0;

  constructor(options: ExecOptions) {
    this.#options = options;
    this.#invocation = commandInvocation(options.command);
  }

  get counts(): Readonly<ExecCounts> {
    return this.#counts;
  }

  /**
   * Runs the command for the event now, or queues it. Returns false when the
   * backlog is full and the event is skipped.
   */
  submit(event: ZpubEvent): boolean {
    if (this.#stopping) {
      return false;
    }
    if (this.#running.size < this.#options.concurrency) {
      this.#reportSkippedRun();
      this.#start(event);
      return true;
    }
    if (this.#waiting.length < this.#options.backlog) {
      this.#reportSkippedRun();
      this.#waiting.push(event);
      return true;
    }

    this.#counts.skipped++;
    if (this.#skippedWhileFull === 0) {
      const { backlog } = this.#options;
      this.#options.warn(
        `${PREFIX}exec backlog is full (${backlog} ${backlog === 1 ? 'event' : 'events'} waiting); skipping new events until a command finishes`,
      );
    }
    this.#skippedWhileFull++;

    return false;
  }

  /** Resolves once no child runs and no event waits. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) {
      return Promise.resolve();
    }

    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Drops the waiting events and ends the running children: SIGTERM to each
   * child's process group, then SIGKILL after {@link STOP_GRACE_MS} to those
   * still running. Resolves once they have exited.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#counts.stopped += this.#waiting.length + this.#running.size;
    this.#waiting.length = 0;
    const running = [...this.#running];
    for (const child of running) {
      signalGroup(child.process, 'SIGTERM');
    }
    const exited = Promise.all(running.map((child) => child.exited));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace over'>((resolve) => {
      timer = setTimeout(() => resolve('grace over'), STOP_GRACE_MS);
    });
    if ((await Promise.race([exited, graceOver])) === 'grace over') {
      for (const child of this.#running) {
        signalGroup(child.process, 'SIGKILL');
      }
      await exited;
    }
    clearTimeout(timer);
  }

  /** Returns the summary line of the counts, without the newline. */
  summary(): string {
    const { started, succeeded, failed, timedOut, skipped, stopped } =
      this.#counts;
    const parts = [
      `${succeeded} succeeded`,
      `${failed} failed${timedOut > 0 ? ` (${timedOut} timed out)` : ''}`,
    ];
    if (skipped > 0) {
      parts.push(`${skipped} events skipped with the backlog full`);
    }
    if (stopped > 0) {
      parts.push(`${stopped} stopped at exit`);
    }

    return `${PREFIX}exec ran ${started} ${started === 1 ? 'command' : 'commands'}: ${parts.join(', ')}`;
  }

  #isIdle(): boolean {
    return this.#running.size === 0 && this.#waiting.length === 0;
  }

  #reportSkippedRun(): void {
    if (this.#skippedWhileFull > 0) {
      const events = this.#skippedWhileFull === 1 ? 'event' : 'events';
      this.#options.warn(
        `${PREFIX}skipped ${this.#skippedWhileFull} ${events} while the exec backlog was full`,
      );
      this.#skippedWhileFull = 0;
    }
  }

  #start(event: ZpubEvent): void {
    this.#counts.started++;
    const { file, args } = this.#invocation;
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        env: eventEnvironment(event, this.#options.env),
        stdio: ['pipe', 'inherit', 'inherit'],
        // Its own process group, so that a timeout or Ctrl-C ends the
        // command with everything it started, such as the programs of a
        // pipeline under sh.
        detached: true,
      });
    } catch (error) {
      this.#fail(event, `cannot run ${printable(file)}: ${describe(error)}`);
      this.#next();
      return;
    }

    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timeoutMs = this.#options.timeoutMs;
    const timeoutTimer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            signalGroup(child, 'SIGTERM');
            killTimer = setTimeout(
              () => signalGroup(child, 'SIGKILL'),
              KILL_GRACE_MS,
            );
          }, timeoutMs);

    const exited = new Promise<void>((resolve) => {
      let settled = false;
      const settle = (failure: string | undefined): void => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timeoutTimer);
        clearTimeout(killTimer);
        this.#running.delete(running);
        if (this.#stopping) {
          // Counted as stopped already.
        } else if (timedOut) {
          this.#counts.timedOut++;
          this.#fail(
            event,
            `timed out after ${(timeoutMs ?? 0) / 1000} s and was killed`,
          );
        } else if (failure !== undefined) {
          this.#fail(event, failure);
        } else {
          this.#counts.succeeded++;
        }
        resolve();
        this.#next();
      };
      child.once('error', (error) => {
        settle(`cannot run ${printable(file)}: ${describe(error)}`);
      });
      child.once('exit', (code, signal) => {
        if (signal !== null) {
          settle(`killed by ${signal}`);
        } else if (code !== 0) {
          settle(`exit code ${code}`);
        } else {
          settle(undefined);
        }
      });
    });
    const running: RunningChild = { process: child, exited };
    this.#running.add(running);

    // A command that does not read stdin may exit before the write ends,
    // which fails it with EPIPE; that is no failure of the command.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${JSON.stringify(event)}\n`);
  }

  /** Starts the next waiting event, or wakes the waiters once idle. */
  #next(): void {
    const event = this.#stopping ? undefined : this.#waiting.shift();
    if (event !== undefined) {
      this.#start(event);
      return;
    }
    if (this.#isIdle()) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) {
        resolve();
      }
    }
  }

  #fail(event: ZpubEvent, reason: string): void {
    this.#counts.failed++;
    const now = performance.now();
    if (now - this.#failureWindowStart >= FAILURE_WINDOW_MS) {
      if (this.#hiddenFailures > 0) {
        this.#options.warn(
          `${PREFIX}${this.#hiddenFailures} more exec failures were not shown`,
        );
      }
      this.#failureWindowStart = now;
      this.#failureLinesInWindow = 0;
      this.#hiddenFailures = 0;
    }
    if (this.#failureLinesInWindow >= FAILURE_LINES_PER_WINDOW) {
      this.#hiddenFailures++;
      return;
    }
    this.#failureLinesInWindow++;
    const topic = JSON.stringify(event.topic ?? '');
    this.#options.warn(
      `${PREFIX}exec failed for event ${printable(event.id)} on topic ${printable(topic)}: ${reason}`,
    );
  }
}

/** Sends a signal to the child's process group, if it still exists. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) {
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group has exited already.
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return 'command not found (ENOENT)';
    }
    if (code === 'EACCES') {
      return 'permission denied (EACCES)';
    }
    return error.message;
  }

  return String(error);
}
