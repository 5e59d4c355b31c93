import type { FlaskResult } from './flask.js';
import type { MicroResult } from './micro.js';
import type { ScaleoutDelivery, ScaleoutResult } from './scaleout.js';
import type { MessageCost, SubscriberRun } from './subscribers.js';
import type {
  DeliveryCheck,
  PeersResult,
  SlowSubscriberResult,
  SteadyResult,
  SuiteOptions,
  ThroughputResult,
} from './suites.js';
import type { LatencySummary } from './stats.js';
import type { Environment } from './versions.js';

/** Everything one run of the harness measured. */
export interface BenchResults {
  mode: 'quick' | 'full' | 'partial';
  command: string;
  environment: Environment;
  options: SuiteOptions;
  throughput?: ThroughputResult;
  steady?: SteadyResult;
  slowSubscriber?: SlowSubscriberResult;
  peers?: PeersResult;
  scaleout?: ScaleoutResult;
  flask?: FlaskResult;
  subscribers?: SubscriberRun[];
  messageCost?: MessageCost;
  micro?: MicroResult;
  targets: TargetCheck[];
  /** Suites that failed, with the error. */
  failures: Record<string, string>;
  /**
   * Share of all cores (0 to 1) that processes outside the harness used
   * during each suite.
   */
  foreignLoad: Record<string, number>;
}

/** One target and whether this run met it; undefined when not measured. */
export interface TargetCheck {
  target: string;
  value: string;
  met: boolean | undefined;
  /** The suite that measured it, for its share of other load. */
  suite: string;
  /**
   * False when processes outside the harness used more than
   * {@link NOISY_SHARE} of the machine during that suite, which makes
   * throughput, latency and, less so, CPU time unreliable.
   */
  reliable: boolean;
}

/** Share of the machine used by other processes above which a suite is noisy. */
export const NOISY_SHARE = 0.1;

/** A table of the report, rendered as text or as Markdown. */
interface Section {
  title: string;
  headers: string[];
  rows: string[][];
  notes: string[];
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
const whole = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';

function deliveryNote(label: string, check: DeliveryCheck): string {
  const verdict = check.exact ? 'exact' : 'NOT exact';
  return `${label}: ${check.responses} responses, ${check.requestEvents} request events and ${check.numberEvents} number events received, ${check.missed} missed, ${check.dropped} dropped by the publisher: ${verdict}`;
}

/** Checks each target that the results cover. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const { throughput, steady, peers } = results;
  const check = (
    suite: string,
    target: string,
    value: number | undefined,
    digits: number,
    met: (v: number) => boolean,
  ) => {
    checks.push({
      target,
      value: value === undefined ? 'not measured' : fixed(value, digits),
      met:
        value === undefined || !Number.isFinite(value) ? undefined : met(value),
      suite,
      reliable: true,
    });
  };
  check(
    'throughput',
    'throughput with zpub and a subscriber / without zpub >= 0.90',
    throughput?.ratio.withSubscriber,
    3,
    (v) => v >= 0.9,
  );
  check(
    'throughput',
    'extra server CPU at saturation <= 1.5 µs/request',
    throughput?.extraCpuUs.withSubscriber,
    2,
    (v) => v <= 1.5,
  );
  check(
    'steady',
    `extra server CPU at ${steady?.rate ?? 5000} req/s <= 3 µs/request`,
    steady?.extraCpuUs,
    2,
    (v) => v <= 3,
  );
  check(
    'steady',
    'end-to-end latency p99 <= 0.5 ms',
    steady?.endToEndMs.p99,
    3,
    (v) => v <= 0.5,
  );
  const deliveries = [
    throughput?.delivery,
    steady?.delivery,
    peers?.delivery.zpub,
  ].filter((delivery): delivery is DeliveryCheck => delivery !== undefined);
  checks.push({
    target: 'zero events lost with a subscriber that keeps up',
    value:
      deliveries.length === 0
        ? 'not measured'
        : `${deliveries.filter((d) => d.exact).length} of ${deliveries.length} checks exact`,
    met: deliveries.length === 0 ? undefined : deliveries.every((d) => d.exact),
    // Counts are exact whatever else runs on the machine.
    suite: 'delivery',
    reliable: true,
  });
  if (peers !== undefined) {
    for (const mode of ['saturation', 'steady'] as const) {
      const cpu =
        mode === 'saturation'
          ? Object.fromEntries(
              Object.entries(peers.saturation.medians).map(([name, m]) => [
                name,
                m.cpuPerRequestUs,
              ]),
            )
          : peers.steady.cpuPerRequestUs;
      const zpub = cpu.zpub;
      const others = Object.entries(cpu).filter(([name]) => name !== 'zpub');
      checks.push({
        target: `less server CPU per request than Redis, NATS and MQTT (${mode})`,
        value:
          [
            `zpub ${fixed(zpub ?? Number.NaN, 2)}`,
            ...others.map(([name, value]) => `${name} ${fixed(value, 2)}`),
          ].join(', ') + ' µs',
        met:
          zpub === undefined || others.length < 3
            ? undefined
            : others.every(([, value]) => zpub < value),
        suite: 'peers',
        reliable: true,
      });
    }
  }
  for (const check of checks) {
    check.reliable = (results.foreignLoad[check.suite] ?? 0) <= NOISY_SHARE;
  }

  return checks;
}

/** Row labels of the scale-out variants. */
const SCALEOUT_LABELS: Record<string, string> = {
  zeromq: 'ZeroMQ, direct',
  nats: 'core NATS',
  jetstream: 'NATS with JetStream',
  proxy: 'ZeroMQ through zsub proxy',
};

function scaleoutDeliveryNote(
  name: string,
  phase: string,
  check: ScaleoutDelivery,
): string {
  const label = `Delivery of ${SCALEOUT_LABELS[name] ?? name} at ${phase}`;
  const note = deliveryNote(label, check);
  if (check.acks === undefined) {
    return note;
  }

  return `${note}. JetStream acknowledged ${check.acks.acknowledged} of ${check.published} published events, with ${check.acks.failures} failures and ${check.acks.timeouts} timeouts.`;
}

/** Share of the paced rate below which a steady run counts as fallen behind. */
const RATE_REACHED_SHARE = 0.95;

/**
 * Formats the CPU per request of a steady run, with the rate reached when
 * the server fell behind the paced rate, since the CPU figure is then for
 * that lower rate.
 */
export function steadyCpuCell(
  cpuPerRequestUs: number,
  reachedRate: number,
  pacedRate: number,
): string {
  const cpu = fixed(cpuPerRequestUs, 2);
  if (!(reachedRate < pacedRate * RATE_REACHED_SHARE)) {
    return cpu;
  }

  return `${cpu} (reached ${whole(reachedRate)} req/s)`;
}

function scaleoutSection(
  scaleout: ScaleoutResult,
  options: SuiteOptions,
): Section {
  const rate = options.steadyRate;
  const proxyCpu = scaleout.proxyCpuPerEventUs;
  const verdictOf = (check: ScaleoutDelivery | undefined) => {
    if (check === undefined) {
      return 'n/a';
    }
    return check.exact ? 'exact' : 'NOT exact';
  };
  const rows = Object.entries(scaleout.saturation.medians).map(
    ([name, medians]) => {
      const delivery = scaleout.delivery[name];
      return [
        SCALEOUT_LABELS[name] ?? name,
        whole(medians.requestsPerSecond),
        name === 'zeromq'
          ? '1'
          : fixed(scaleout.saturation.ratio[name] ?? Number.NaN, 3),
        fixed(medians.cpuPerRequestUs, 2),
        steadyCpuCell(
          scaleout.steady.cpuPerRequestUs[name] ?? Number.NaN,
          scaleout.steady.rate[name] ?? Number.NaN,
          rate,
        ),
        name === 'proxy' && proxyCpu !== undefined
          ? `${fixed(proxyCpu.saturation, 2)} / ${fixed(proxyCpu.steady, 2)}`
          : '',
        `${verdictOf(delivery?.saturation)} / ${verdictOf(delivery?.steady)}`,
      ];
    },
  );
  const notes = [
    `The ratio is the median of the per-round ratios to direct ZeroMQ in the same round. A steady figure with "reached" is for a server that fell behind the ${rate} req/s timetable and served that rate instead. The proxy column is the CPU time of the \`zsub proxy\` process, pinned to the load core, per event (two per response); the server CPU of the proxy variant does not include it.`,
  ];
  for (const [name, checks] of Object.entries(scaleout.delivery)) {
    notes.push(
      scaleoutDeliveryNote(name, 'saturation', checks.saturation),
      scaleoutDeliveryNote(name, `${rate} req/s`, checks.steady),
    );
  }
  if (scaleout.stream !== undefined) {
    const { name, subjects, stored } = scaleout.stream;
    notes.push(
      `The JetStream variant stored its events in stream ${name} (subjects ${subjects.join(', ')}, file storage), which held ${stored} events before the harness deleted it.`,
    );
  }
  if (scaleout.proxyForwarded !== undefined) {
    const { messages, events } = scaleout.proxyForwarded;
    notes.push(
      `The proxy forwarded ${messages} messages for the ${events} events its publisher sent, warm-up included: ${fixed(events / messages, 2)} events per message.`,
    );
  }
  const foreign = Object.entries(scaleout.foreignEvents).filter(
    ([, count]) => count > 0,
  );
  if (foreign.length > 0) {
    notes.push(
      `Events of other publishers on the same topics, left out of the counts: ${foreign
        .map(([name, count]) => `${SCALEOUT_LABELS[name] ?? name} ${count}`)
        .join(', ')}.`,
    );
  }
  for (const [name, reason] of Object.entries(scaleout.skipped)) {
    notes.push(`${SCALEOUT_LABELS[name] ?? name} skipped: ${reason}`);
  }

  return {
    title: `Scale-out: zpub over its own transports, one live subscriber each; saturation (wrk, GET /print/7) and ${rate} req/s (GET /stamp/N), ${scaleout.rounds} ${scaleout.rounds === 1 ? 'round' : 'rounds'} of ${options.durationS} s, medians`,
    headers: [
      'transport',
      'req/s at saturation',
      'ratio to direct',
      'server CPU µs/request at saturation',
      `server CPU µs/request at ${rate} req/s`,
      'proxy CPU µs/event, saturation / steady',
      'delivery, saturation / steady',
    ],
    rows,
    notes,
  };
}

function sections(results: BenchResults): Section[] {
  const list: Section[] = [];
  const {
    options,
    throughput,
    steady,
    slowSubscriber,
    peers,
    flask,
    subscribers,
  } = results;
  if (throughput !== undefined) {
    const base = throughput.medians.none;
    list.push({
      title: `Throughput: wrk -t1 -c${options.connections}, GET /print/7, ${options.rounds} rounds of ${options.durationS} s, medians`,
      headers: [
        'variant',
        'req/s',
        'ratio',
        'server CPU µs/request',
        'extra µs/request',
      ],
      rows: Object.entries(throughput.medians).map(([name, medians]) => [
        name,
        whole(medians.requestsPerSecond),
        name === 'none'
          ? '1'
          : fixed(
              name === 'zpub'
                ? throughput.ratio.withoutSubscriber
                : throughput.ratio.withSubscriber,
              3,
            ),
        fixed(medians.cpuPerRequestUs, 2),
        name === 'none'
          ? ''
          : fixed(
              name === 'zpub'
                ? throughput.extraCpuUs.withoutSubscriber
                : throughput.extraCpuUs.withSubscriber,
              2,
            ),
      ]),
      notes: [
        'Ratio and extra CPU are medians of the per-round differences to `none` in the same round.',
        deliveryNote('Delivery at saturation', throughput.delivery),
        `Baseline: ${whole(base?.requestsPerSecond ?? Number.NaN)} req/s.`,
      ],
    });
  }
  if (steady !== undefined) {
    const latency = (label: string, summary: LatencySummary) =>
      `End-to-end latency${label}, publish to subscriber receipt, ${summary.count} events: p50 ${fixed(summary.p50, 3)} ms, p99 ${fixed(summary.p99, 3)} ms, p99.9 ${fixed(summary.p999, 3)} ms, max ${fixed(summary.max, 3)} ms.`;
    const extraOf = (name: string) => {
      if (name === 'none') {
        return '';
      }
      const delayed = steady.delayed;
      const extra =
        delayed !== undefined && name.endsWith('flush delay')
          ? delayed.extraCpuUs
          : steady.extraCpuUs;
      return fixed(extra, 2);
    };
    const notes = [
      latency('', steady.endToEndMs),
      deliveryNote('Delivery at steady rate', steady.delivery),
    ];
    if (steady.delayed !== undefined) {
      notes.push(
        latency(
          ` with flushDelayMs ${steady.delayed.flushDelayMs}`,
          steady.delayed.endToEndMs,
        ),
        deliveryNote(
          `Delivery with flushDelayMs ${steady.delayed.flushDelayMs}`,
          steady.delayed.delivery,
        ),
      );
    }
    list.push({
      title: `Steady ${steady.rate} req/s: paced Node.js client, GET /stamp/N, ${options.rounds} rounds of ${options.durationS} s, medians`,
      headers: [
        'variant',
        'server CPU µs/request',
        'extra µs/request',
        'HTTP p99 ms',
      ],
      rows: Object.entries(steady.cpuPerRequestUs).map(([name, cpu]) => {
        const own = steady.runs.filter((run) => run.variant === name);
        const p99 = own
          .map((run) => run.httpLatencyMs.p99)
          .sort((a, b) => a - b)[Math.floor(own.length / 2)];
        return [
          name,
          fixed(cpu, 2),
          extraOf(name),
          fixed(p99 ?? Number.NaN, 3),
        ];
      }),
      notes,
    });
  }
  if (slowSubscriber !== undefined) {
    const slow = slowSubscriber;
    list.push({
      title: `Slow subscriber: ${slow.slowUs} µs of work per event, wrk at saturation for ${options.durationS * 2} s`,
      headers: [
        'published',
        'dropped by the publisher',
        'received',
        'reported missing',
        'missing before first',
        'accounted',
        'RSS MiB before / 1st half max / 2nd half max / after',
        'RSS bounded',
      ],
      rows: [
        [
          whole(slow.published),
          whole(slow.dropped),
          whole(slow.received),
          whole(slow.missed),
          whole(slow.missedBeforeFirst),
          slow.accounted ? 'yes' : 'NO',
          [
            slow.rssMiB.before,
            slow.rssMiB.firstHalfMax,
            slow.rssMiB.secondHalfMax,
            slow.rssMiB.after,
          ]
            .map((v) => fixed(v, 0))
            .join(' / '),
          slow.rssBounded ? 'yes' : 'NO',
        ],
      ],
      notes: [
        'Accounted: received + reported missing + missing before first = published + dropped.',
      ],
    });
  }
  if (peers !== undefined) {
    list.push({
      title: `Peers: zpub's publisher over each transport, one live subscriber each; saturation (wrk, GET /print/7) and ${options.steadyRate} req/s (GET /stamp/N), medians`,
      headers: [
        'transport',
        'req/s at saturation',
        'server CPU µs/request at saturation',
        `server CPU µs/request at ${options.steadyRate} req/s`,
        'delivery',
      ],
      rows: Object.entries(peers.saturation.medians).map(([name, medians]) => [
        name,
        whole(medians.requestsPerSecond),
        fixed(medians.cpuPerRequestUs, 2),
        fixed(peers.steady.cpuPerRequestUs[name] ?? Number.NaN, 2),
        peers.delivery[name]?.exact === true
          ? 'exact'
          : `${peers.delivery[name]?.requestEvents ?? 0} of ${peers.delivery[name]?.responses ?? 0} request events`,
      ]),
      notes: Object.entries(peers.skipped).map(
        ([name, reason]) => `${name} skipped: ${reason}`,
      ),
    });
  }
  if (results.scaleout !== undefined) {
    list.push(scaleoutSection(results.scaleout, options));
  }
  if (flask !== undefined) {
    list.push({
      title:
        'The Flask pattern: bind a PUB socket, sleep 1 s, send, unbind, per request',
      headers: [
        'requests',
        'req/s',
        'latency p50 / max ms',
        'statuses',
        'errors',
        'messages delivered',
      ],
      rows: [flask.sequential, flask.concurrent].map((run) => [
        `${run.requests} ${run.concurrency === 1 ? 'sequential' : 'concurrent'}`,
        fixed(run.requestsPerSecond, 2),
        `${fixed(run.latencyMs.p50, 0)} / ${fixed(run.latencyMs.max, 0)}`,
        Object.entries(run.statuses)
          .map(([status, count]) => `${count}× ${status}`)
          .join(', '),
        String(run.errors),
        String(run.delivered),
      ]),
      notes: flask.errorLines.map((line) => `Flask logged: ${line}`),
    });
  }
  if (subscribers !== undefined) {
    list.push({
      title: 'Subscribers: a publisher sending batches as fast as it can',
      headers: [
        'subscriber',
        'published',
        'received',
        'missed',
        'events/s while busy',
        'events per CPU second',
      ],
      rows: subscribers.map((run) => [
        run.subscriber,
        whole(run.published),
        whole(run.received),
        whole(run.missed),
        whole(run.eventsPerSecond),
        whole(run.eventsPerCpuSecond),
      ]),
      notes: [],
    });
  }

  if (results.messageCost !== undefined) {
    const cost = results.messageCost;
    list.push({
      title: `One event alone in its turn, a turn every ${cost.intervalUs} µs: publisher CPU per turn`,
      headers: [
        'no event',
        'event, no subscriber',
        'event, one live subscriber',
      ],
      rows: [
        [cost.idleTurnUs, cost.withoutSubscriberUs, cost.withSubscriberUs].map(
          (value) => `${fixed(value, 1)} µs`,
        ),
      ],
      notes: [
        "All threads of the publisher process, from /proc/PID/stat. With a subscriber, each message wakes libzmq's I/O thread, which writes it to the TCP connection.",
      ],
    });
  }

  if (results.micro !== undefined) {
    list.push({
      title: 'Single steps, timed in a loop on the server core',
      headers: ['step', 'ns per call'],
      rows: Object.entries(results.micro).map(([step, ns]) => [
        step,
        whole(ns),
      ]),
      notes: [
        'The sends go to one live subscriber over TCP and are awaited one at a time, as the publisher did before it stopped waiting between sends.',
      ],
    });
  }

  return list;
}

function alignedTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();

  return [
    line(headers),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
  ];
}

function verdict(check: TargetCheck): string {
  if (check.met === undefined) {
    return 'not measured';
  }
  const result = check.met ? 'met' : 'MISSED';

  return check.reliable ? result : `${result} (noisy)`;
}

function targetRows(targets: readonly TargetCheck[]): string[][] {
  return targets.map((check) => [verdict(check), check.target, check.value]);
}

function foreignLoadNote(results: BenchResults): string {
  const shares = Object.entries(results.foreignLoad)
    .map(([suite, share]) => `${suite} ${(share * 100).toFixed(1)}%`)
    .join(', ');

  return `Share of the machine used by processes outside the harness: ${shares}. A result is marked noisy when that share was above ${NOISY_SHARE * 100}% during its suite.`;
}

/** Renders the results for a terminal. */
export function renderText(results: BenchResults): string {
  const lines: string[] = [];
  for (const section of sections(results)) {
    lines.push(section.title, ...alignedTable(section.headers, section.rows));
    lines.push(...section.notes, '');
  }
  lines.push(
    'Targets',
    ...alignedTable(['result', 'target', 'value'], targetRows(results.targets)),
  );
  lines.push(foreignLoadNote(results));
  for (const [suite, message] of Object.entries(results.failures)) {
    lines.push(`FAILED ${suite}: ${message}`);
  }

  return `${lines.join('\n')}\n`;
}

function markdownTable(headers: string[], rows: string[][]): string[] {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${headers.map(escape).join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
}

/** Renders the results as the generated part of BENCHMARKS.md. */
export function renderMarkdown(results: BenchResults): string {
  const env = results.environment;
  const lines = [
    `Generated by \`${results.command}\` on ${env.date}.`,
    '',
    `- Machine: ${env.cpu}, ${env.cores} cores. The server (or publisher) runs under \`taskset -c 1\`; wrk, the paced client and every subscriber under \`taskset -c 0\`. The brokers run unpinned, as the machine started them.`,
    `- Node.js ${env.node}, zeromq.js ${env.zeromq} with libzmq ${env.libzmq}, Fastify ${env.fastify}, ${env.wrk}.`,
    `- Broker clients: ${Object.entries(env.clients)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}. Brokers: ${Object.values(env.brokers).join('; ')}.`,
    `- ${env.python}.`,
    '',
  ];
  for (const section of sections(results)) {
    lines.push(
      `### ${section.title}`,
      '',
      ...markdownTable(section.headers, section.rows),
      '',
    );
    for (const note of section.notes) {
      lines.push(`${note}`, '');
    }
  }
  lines.push(
    '### Targets',
    '',
    ...markdownTable(
      ['result', 'target', 'value'],
      targetRows(results.targets),
    ),
    '',
  );
  lines.push(foreignLoadNote(results), '');
  for (const [suite, message] of Object.entries(results.failures)) {
    lines.push(`Suite ${suite} failed: ${message}`, '');
  }

  return lines.join('\n');
}

export const RESULTS_START =
  '<!-- bench results: start (written by pnpm bench) -->';
export const RESULTS_END = '<!-- bench results: end -->';

/**
 * Puts the generated results between the markers of BENCHMARKS.md and keeps
 * the rest of the file, or makes a new file when it has no markers.
 */
export function replaceResults(
  existing: string | undefined,
  generated: string,
): string {
  const block = `${RESULTS_START}\n\n${generated}\n${RESULTS_END}`;
  if (existing === undefined) {
    return `# Benchmarks\n\n${block}\n`;
  }
  const start = existing.indexOf(RESULTS_START);
  const end = existing.indexOf(RESULTS_END);
  if (start === -1 || end === -1 || end < start) {
    return `${existing.trimEnd()}\n\n${block}\n`;
  }

  return (
    existing.slice(0, start) + block + existing.slice(end + RESULTS_END.length)
  );
}
