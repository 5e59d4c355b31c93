import { readFile } from 'node:fs/promises';
import { Publisher } from '@zpub/client';
import { XPublisher } from 'zeromq';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../../../packages/nats/test/nats-server.js';
import { ZsubProcess, killRunningZsubs, runZsub } from './helpers.js';

afterEach(async () => {
  await killRunningZsubs();
});

interface RunningProxy {
  process: ZsubProcess;
  frontend: string;
  backend: string;
}

/** Starts `zsub proxy` and waits for its ready line. */
async function startProxy(
  args: readonly string[] = [
    '--frontend',
    'tcp://127.0.0.1:0',
    '--backend',
    'tcp://127.0.0.1:0',
  ],
): Promise<RunningProxy> {
  const proxy = new ZsubProcess(['proxy', ...args]);
  await proxy.waitForStderr('proxy ready');
  const line = proxy.stderrLines.find((text) => text.includes('proxy ready'));
  const match = /frontend (\S+), backend ([^\s,]+)/.exec(line ?? '');
  if (match === null) {
    throw new Error(`unexpected ready line: ${line}`);
  }

  return {
    process: proxy,
    frontend: match[1] as string,
    backend: match[2] as string,
  };
}

async function connectPublisher(frontend: string): Promise<Publisher> {
  const publisher = await Publisher.open({
    endpoint: frontend,
    mode: 'connect',
    source: 'zpub://test/proxy',
  });
  onTestFinished(async () => {
    await publisher.close();
  });

  return publisher;
}

/** Publishes `data` until zsub has printed `lines` lines. */
async function publishUntilPrinted(
  publisher: Publisher,
  zsub: ZsubProcess,
  lines: number,
  data: (attempt: number) => unknown,
): Promise<void> {
  let attempt = 0;
  const printed = zsub.waitForStdoutLines(lines);
  let done = false;
  void printed.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    publisher.publish('number', data(++attempt));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await printed;
}

describe('zsub proxy', () => {
  it('forwards events and filters them', async () => {
    const proxy = await startProxy();
    const publisher = await connectPublisher(proxy.frontend);
    // The publisher's connection to the proxy is asynchronous, so the
    // subscriber may meet no publisher at first; a confirmed ready line
    // shows that a publisher answered the hello through the proxy.
    const zsub = new ZsubProcess([
      '--endpoint',
      proxy.backend,
      '--topic',
      'number',
      '--raw',
    ]);
    const ready = await zsub.waitForReady();
    await publishUntilPrinted(publisher, zsub, 1, () => 'first');
    publisher.publish('numbers', 'not this one');
    publisher.publish('number', 'second');
    // More copies of "first" can still be on their way, so the wait is for
    // the line itself rather than for a count of lines.
    await zsub.waitFor('the line "second"', () =>
      zsub.stdoutLines.includes('second'),
    );

    expect(zsub.stdoutLines.at(-1)).toBe('second');
    expect(zsub.stdoutLines).not.toContain('not this one');
    expect(
      ready.startsWith(`zsub: ready, subscribed to ${proxy.backend}`),
    ).toBe(true);
  });

  it('confirms readiness when the publisher is connected first', async () => {
    const proxy = await startProxy();
    const upstream = new XPublisher({ linger: 0 });
    upstream.connect(proxy.frontend);
    onTestFinished(() => upstream.close());
    const subscriptions: string[] = [];
    const reading = (async () => {
      for await (const [frame] of upstream) {
        const text = frame?.subarray(1).toString('utf8') ?? '';
        subscriptions.push(`${frame?.[0]}:${text}`);
        if (frame?.[0] === 1 && text.startsWith('~zpub.hello.')) {
          await upstream.send([text, '{}']);
        }
      }
    })();

    const zsub = new ZsubProcess([
      '--endpoint',
      proxy.backend,
      '--topic',
      'number',
    ]);
    const ready = await zsub.waitForReady();
    upstream.close();
    await reading.catch(() => undefined);

    expect(ready).toBe(
      `zsub: ready, subscribed to ${proxy.backend} (topics: number)`,
    );
    expect(subscriptions[0]).toBe('1:number');
    expect(subscriptions[1]).toMatch(/^1:~zpub\.hello\./);
  });

  it('sends the last event of each topic to a new subscriber', async () => {
    const proxy = await startProxy([
      '--frontend',
      'tcp://127.0.0.1:0',
      '--backend',
      'tcp://127.0.0.1:0',
      '--last-value-cache',
    ]);
    const publisher = await connectPublisher(proxy.frontend);
    const first = new ZsubProcess(['--endpoint', proxy.backend, '--raw']);
    await first.waitForReady();
    await publishUntilPrinted(publisher, first, 1, () => 0);
    publisher.publish('number', 1);
    publisher.publish('number', 2);
    publisher.publish('other', 'other');
    publisher.publish('number.7', 7);
    await first.waitFor('the events before the second subscriber', () =>
      first.stdoutLines.includes('7'),
    );

    const second = new ZsubProcess([
      '--endpoint',
      proxy.backend,
      '--topic',
      'number',
      '--json',
    ]);
    await second.waitForReady();
    await second.waitForStdoutLines(2);
    publisher.publish('number', 3);
    const lines = await second.waitForStdoutLines(3);
    const events = lines.map(
      (line) => JSON.parse(line) as { topic: string; data: unknown },
    );

    const cached = events
      .slice(0, 2)
      .map((event) => [event.topic, event.data])
      .sort();
    expect(cached).toEqual([
      ['number', 2],
      ['number.7', 7],
    ]);
    expect(events[2]).toMatchObject({ topic: 'number', data: 3 });
    expect(second.stderr).not.toMatch(/out of order|missed/);
    expect(first.stderr).not.toMatch(/out of order|missed/);
  });

  it('resumes within 2 s after the proxy restarts', async () => {
    const frontend = `tcp://127.0.0.1:${await freePort()}`;
    const backend = `tcp://127.0.0.1:${await freePort()}`;
    const args = ['--frontend', frontend, '--backend', backend];
    const proxy = await startProxy(args);
    const publisher = await connectPublisher(frontend);
    const zsub = new ZsubProcess([
      '--endpoint',
      backend,
      '--topic',
      'number',
      '--raw',
    ]);
    await zsub.waitForReady();
    await publishUntilPrinted(publisher, zsub, 1, () => 'before');

    proxy.process.child.kill('SIGTERM');
    await proxy.process.exited;
    await startProxy(args);
    const restarted = Date.now();
    const printedBefore = zsub.stdoutLines.length;
    await publishUntilPrinted(
      publisher,
      zsub,
      printedBefore + 1,
      () => 'after',
    );
    const resumedAfterMs = Date.now() - restarted;

    expect(zsub.stdoutLines.at(-1)).toBe('after');
    expect(resumedAfterMs).toBeLessThan(2000);
    await zsub.waitForStderr('reconnected to');
  });

  it('resumes after the publisher restarts', async () => {
    const proxy = await startProxy();
    const first = await connectPublisher(proxy.frontend);
    const zsub = new ZsubProcess([
      '--endpoint',
      proxy.backend,
      '--topic',
      'number',
      '--raw',
    ]);
    await zsub.waitForReady();
    await publishUntilPrinted(first, zsub, 1, () => 'first publisher');
    await first.close();

    const second = await connectPublisher(proxy.frontend);
    const restarted = Date.now();
    await publishUntilPrinted(
      second,
      zsub,
      zsub.stdoutLines.length + 1,
      () => 'second publisher',
    );

    expect(zsub.stdoutLines.at(-1)).toBe('second publisher');
    expect(Date.now() - restarted).toBeLessThan(2000);
    await zsub.waitForStderr('restarted');
  });

  it('resumes after the subscriber restarts', async () => {
    const proxy = await startProxy();
    const publisher = await connectPublisher(proxy.frontend);
    const args = ['--endpoint', proxy.backend, '--topic', 'number', '--raw'];
    const first = new ZsubProcess([...args, '--count', '1']);
    await first.waitForReady();
    await publishUntilPrinted(publisher, first, 1, () => 'first subscriber');
    expect((await first.exited).code).toBe(0);

    // The first subscriber's unsubscription travelled upstream, so the
    // second one's subscription must travel up again to get events.
    const second = new ZsubProcess(args);
    const ready = await second.waitForReady();
    publisher.publish('number', 'second subscriber');
    await second.waitForStdoutLines(1);

    expect(ready).toBe(
      `zsub: ready, subscribed to ${proxy.backend} (topics: number)`,
    );
    expect(second.stdoutLines).toEqual(['second subscriber']);
  });

  it('exits 1 when the port is in use', async () => {
    const proxy = await startProxy();
    const clash = new ZsubProcess([
      'proxy',
      '--frontend',
      proxy.frontend,
      '--backend',
      'tcp://127.0.0.1:0',
    ]);
    const status = await clash.exited;

    expect(status.code).toBe(1);
    expect(clash.stderrLines).toEqual([
      expect.stringMatching(
        /^zsub: cannot bind tcp:\/\/127\.0\.0\.1:\d+: Address already in use.*--frontend or --backend\.$/,
      ),
    ]);
  });

  it('exits 2 for an unknown option', async () => {
    const proxy = new ZsubProcess(['proxy', '--nope']);
    const status = await proxy.exited;

    expect(status.code).toBe(2);
    expect(proxy.stderrLines).toEqual([
      "zsub: unknown option '--nope'",
      "Run 'zsub proxy --help' for usage.",
    ]);
  });

  it('exits 0 on SIGTERM with its counters', async () => {
    const proxy = await startProxy();
    proxy.process.child.kill('SIGTERM');
    const status = await proxy.process.exited;

    expect(status.code).toBe(0);
    expect(proxy.process.stderrLines.at(-1)).toBe(
      'zsub: proxy stopped after forwarding 0 messages and 0 cached events',
    );
  });
});

describe('zsub proxy --help', () => {
  it('matches the README', async () => {
    const result = await runZsub(['proxy', '--help']);
    const readme = await readFile(
      new URL('../README.md', import.meta.url),
      'utf8',
    );
    const help = `${result.stdout.join('\n')}\n`;

    expect(result.code).toBe(0);
    expect(readme).toContain(`\`\`\`text\n${help}\`\`\``);
  });
});
