import type { Notice } from '@zpub/client';
import type { ZpubEvent } from '@zpub/protocol';
import { ExecRunner } from './exec.js';
import type { NoticeLog } from './notices.js';
import type { Config } from './options.js';
import { colorLevel, createFormatter } from './output.js';
import { StatsDisplay } from './stats-display.js';
import { StatsCollector } from './stats.js';

/** The handler of each event that passes the filters. */
export interface EventSink {
  /**
   * Handles one event and resolves when zsub may read the next one. Returns
   * false when the event was skipped, so it does not count for --count.
   */
  handle(event: ZpubEvent): Promise<boolean> | boolean;
  /** Receives every notice of the subscription. */
  notice?(notice: Notice): void;
  /** Waits for the work in progress, at the end of a run that succeeded. */
  finish(): Promise<void>;
  /** Ends the work in progress quickly, after a signal, timeout or error. */
  stop(): Promise<void>;
}

/** Creates the sink for --exec, --stats, or else printing. */
export function createSink(config: Config, log: NoticeLog): EventSink {
  if (config.exec !== undefined) {
    return new ExecSink(config.exec, log);
  }
  if (config.stats !== undefined) {
    return new StatsSink(config, log);
  }

  return new PrintSink(config);
}

/** Prints each event on stdout, and waits for stdout when it is full. */
class PrintSink implements EventSink {
  readonly #format: (event: ZpubEvent) => string;

  constructor(config: Config) {
    if (config.template !== undefined) {
      this.#format = config.template;
    } else {
      const format = createFormatter(config.output, colorLevel(config.color));
      this.#format = (event) => `${format(event)}\n`;
    }
  }

  async handle(event: ZpubEvent): Promise<boolean> {
    if (!process.stdout.write(this.#format(event))) {
      await drained(process.stdout);
    }

    return true;
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** Runs --exec for each event, and prints the summary of the runs at the end. */
class ExecSink implements EventSink {
  readonly #runner: ExecRunner;
  readonly #log: NoticeLog;

  constructor(exec: NonNullable<Config['exec']>, log: NoticeLog) {
    this.#log = log;
    this.#runner = new ExecRunner({
      ...exec,
      env: process.env,
      warn: (line) => log.warning(line),
    });
  }

  handle(event: ZpubEvent): boolean {
    return this.#runner.submit(event);
  }

  async finish(): Promise<void> {
    await this.#runner.whenIdle();
    this.#log.info(this.#runner.summary());
  }

  async stop(): Promise<void> {
    await this.#runner.stop();
    this.#log.info(this.#runner.summary());
  }
}

/** Counts events for --stats and shows them once per interval. */
class StatsSink implements EventSink {
  readonly #collector: StatsCollector;
  readonly #display: StatsDisplay;

  constructor(config: Config, log: NoticeLog) {
    this.#collector = new StatsCollector(config.endpoints, Date.now());
    const terminal = process.stdout.isTTY === true;
    this.#display = new StatsDisplay(this.#collector, {
      intervalMs: config.stats?.intervalMs ?? 1000,
      terminal,
      output: process.stdout,
    });
    // Lines on a terminal that also shows the view would scroll it, so they
    // go to the view's notice section while it is shown.
    if (terminal && process.stderr.isTTY) {
      log.redirect((line) => {
        if (!this.#display.isShowingView) {
          return false;
        }
        this.#display.addNotice(line);
        return true;
      });
    }
    this.#display.start();
  }

  handle(event: ZpubEvent): boolean {
    this.#collector.observe(event);

    return true;
  }

  notice(notice: Notice): void {
    this.#collector.notice(notice);
  }

  finish(): Promise<void> {
    this.#display.stop();

    return Promise.resolve();
  }

  stop(): Promise<void> {
    return this.finish();
  }
}

/** Resolves when the stream can take more data, or when it fails or closes. */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}
