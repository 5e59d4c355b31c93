import type { StatsCollector } from './stats.js';
import { formatStatsLine, renderStatsScreen } from './stats-view.js';

/** Switches to the terminal's alternate screen and hides the cursor. */
const ENTER_VIEW = '\u001b[?1049h\u001b[?25l';
/** Shows the cursor and returns to the normal screen. */
const LEAVE_VIEW = '\u001b[?25h\u001b[?1049l';
const CURSOR_HOME = '\u001b[H';
const CLEAR_LINE_END = '\u001b[K';
const CLEAR_SCREEN_END = '\u001b[J';

/** Notice lines the view keeps for its bottom section. */
const VIEW_NOTICES = 5;

export interface StatsDisplayOptions {
  intervalMs: number;
  /** Draws the terminal view when true, and logfmt lines otherwise. */
  terminal: boolean;
  output: NodeJS.WriteStream;
}

/**
 * Writes the statistics of a collector once per interval: a view redrawn in
 * place on a terminal, or one summary line per interval.
 */
export class StatsDisplay {
  readonly #collector: StatsCollector;
  readonly #options: StatsDisplayOptions;
  readonly #notices: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastSnapshot: ReturnType<StatsCollector['takeSnapshot']> | undefined;
  #active = false;
  readonly #redraw = (): void => this.#draw();

  constructor(collector: StatsCollector, options: StatsDisplayOptions) {
    this.#collector = collector;
    this.#options = options;
  }

  /** True while the terminal view covers the screen. */
  get isShowingView(): boolean {
    return this.#active && this.#options.terminal;
  }

  start(): void {
    this.#active = true;
    if (this.#options.terminal) {
      this.#options.output.write(ENTER_VIEW);
      this.#options.output.on('resize', this.#redraw);
      this.#lastSnapshot = this.#collector.takeSnapshot(Date.now());
      this.#draw();
    }
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
  }

  /** Shows a notice line in the view's bottom section. */
  addNotice(line: string): void {
    this.#notices.push(line);
    if (this.#notices.length > VIEW_NOTICES) {
      this.#notices.shift();
    }
  }

  /**
   * Stops refreshing and writes one last summary line for the time since the
   * last one, after leaving the terminal view.
   */
  stop(): void {
    if (!this.#active) {
      return;
    }
    this.#active = false;
    clearInterval(this.#timer);
    const snapshot = this.#collector.takeSnapshot(Date.now());
    if (this.#options.terminal) {
      this.#options.output.off('resize', this.#redraw);
      this.#options.output.write(LEAVE_VIEW);
    }
    this.#options.output.write(`${formatStatsLine(snapshot, new Date())}\n`);
  }

  #tick(): void {
    const snapshot = this.#collector.takeSnapshot(Date.now());
    if (this.#options.terminal) {
      this.#lastSnapshot = snapshot;
      this.#draw();
    } else {
      this.#options.output.write(`${formatStatsLine(snapshot, new Date())}\n`);
    }
  }

  #draw(): void {
    const snapshot = this.#lastSnapshot;
    if (snapshot === undefined || !this.isShowingView) {
      return;
    }
    const { output } = this.#options;
    const lines = renderStatsScreen(
      snapshot,
      { columns: output.columns ?? 80, rows: output.rows ?? 24 },
      this.#notices,
    );
    output.write(
      `${CURSOR_HOME}${lines.map((line) => `${line}${CLEAR_LINE_END}`).join('\n')}${CLEAR_SCREEN_END}`,
    );
  }
}
