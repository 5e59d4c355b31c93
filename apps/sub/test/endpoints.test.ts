import { Publisher } from '@zpub/client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RawPublisher,
  ZsubProcess,
  killRunningZsubs,
  makeEvent,
  runZsub,
} from './helpers.js';

afterEach(async () => {
  await killRunningZsubs();
});

/** Returns an endpoint on 127.0.0.1 that nothing listens on, for now. */
async function freeEndpoint(): Promise<string> {
  const placeholder = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
  const { endpoint } = placeholder;
  await placeholder.close();

  return endpoint;
}

describe('several endpoints', () => {
  it('are ready once every endpoint is live', async () => {
    const first = await RawPublisher.open({ replyToHello: true });
    const laterEndpoint = await freeEndpoint();
    const zsub = new ZsubProcess([
      '--endpoint',
      first.endpoint,
      '--endpoint',
      laterEndpoint,
      '--raw',
      '--count',
      '2',
    ]);
    await first.helloReceived;
    await first.send(['number', JSON.stringify(makeEvent({ data: 'first' }))]);
    await zsub.waitForStdoutLines(1);

    // Events of the live endpoint arrive, but the ready line waits. The
    // endpoint with no publisher may already be reported as unreachable.
    const unreachable = `zsub: warning: cannot connect to ${laterEndpoint}: nothing accepts connections there yet; retrying`;
    expect(zsub.stderrLines.filter((line) => line !== unreachable)).toEqual([]);

    const later = await Publisher.open({ endpoint: laterEndpoint });
    try {
      const ready = await zsub.waitForReady();
      later.publish('number', 'later');

      expect(ready).toBe(
        `zsub: ready, subscribed to ${first.endpoint}, ${laterEndpoint} (topics: all)`,
      );
      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(zsub.stdoutLines).toEqual(['first', 'later']);
    } finally {
      first.close();
      await later.close();
    }
  });

  it('timeout names the endpoints not live', async () => {
    const first = await RawPublisher.open({ replyToHello: true });
    const missing = await freeEndpoint();
    try {
      const zsub = new ZsubProcess([
        '--endpoint',
        `${first.endpoint},${missing}`,
        '--timeout',
        '1',
      ]);
      await first.helloReceived;

      expect(await zsub.exited).toEqual({ code: 124, signal: null });
      expect(zsub.stderrLines).toEqual([
        `zsub: warning: cannot connect to ${missing}: nothing accepts connections there yet; retrying`,
        `zsub: timed out after 1 s, received 0 events; not live: ${missing}`,
      ]);
    } finally {
      first.close();
    }
  });

  it('report gaps and restarts per publisher', async () => {
    const first = await RawPublisher.open({ replyToHello: true });
    const second = await RawPublisher.open({ replyToHello: true });
    try {
      const zsub = new ZsubProcess(
        ['--topic', 'number', '--raw', '--count', '6'],
        { ZSUB_ENDPOINT: `${first.endpoint},${second.endpoint}` },
      );
      const ready = await zsub.waitForReady();
      const send = (
        publisher: RawPublisher,
        source: string,
        instance: string,
        sequence: number,
      ): Promise<void> => {
        const event = makeEvent({
          source,
          instance,
          sequence,
          data: `${instance}/${sequence}`,
        });
        return publisher.send(['number', JSON.stringify(event)]);
      };
      // Both publishers count the same topic with overlapping sequences.
      await send(first, 'zpub://test/a', 'instance-a', 1);
      await send(second, 'zpub://test/b', 'instance-b', 1);
      await send(first, 'zpub://test/a', 'instance-a', 4);
      await send(second, 'zpub://test/b', 'instance-b', 2);
      await send(second, 'zpub://test/b', 'instance-b2', 1);
      await send(first, 'zpub://test/a', 'instance-a', 5);

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      expect(ready).toBe(
        `zsub: ready, subscribed to ${first.endpoint}, ${second.endpoint} (topics: number)`,
      );
      expect(zsub.stdoutLines).toHaveLength(6);
      // Lines of the two publishers may interleave in either order.
      expect(zsub.stderrLines.slice(1).sort()).toEqual([
        'zsub: missed 2 events on topic "number" from publisher instance-a (sequence 2 to 3)',
        'zsub: publisher zpub://test/b restarted (instance instance-b -> instance-b2); sequences start again',
      ]);
    } finally {
      first.close();
      second.close();
    }
  });

  it('without hello replies name the unconfirmed', async () => {
    const confirmed = await RawPublisher.open({ replyToHello: true });
    const silent = await RawPublisher.open({ replyToHello: false });
    try {
      const zsub = new ZsubProcess([
        '--endpoint',
        confirmed.endpoint,
        '--endpoint',
        silent.endpoint,
      ]);

      expect(await zsub.waitForReady()).toBe(
        `zsub: ready, subscribed to ${confirmed.endpoint}, ${silent.endpoint} (topics: all) (${silent.endpoint} did not confirm; assumed live after the handshake)`,
      );
    } finally {
      confirmed.close();
      silent.close();
    }
  });
});

describe('ready line', () => {
  it('can follow warnings and events, as help says', async () => {
    const first = await RawPublisher.open({ replyToHello: true });
    const laterEndpoint = await freeEndpoint();
    const unreachable = `zsub: warning: cannot connect to ${laterEndpoint}: nothing accepts connections there yet; retrying`;
    const zsub = new ZsubProcess([
      '--endpoint',
      first.endpoint,
      '--endpoint',
      laterEndpoint,
      '--raw',
    ]);
    await zsub.waitForStderr(unreachable);
    await first.helloReceived;
    await first.send(['number', JSON.stringify(makeEvent({ data: 'first' }))]);
    await zsub.waitForStdoutLines(1);
    const later = await Publisher.open({ endpoint: laterEndpoint });
    try {
      const ready = await zsub.waitForReady();

      expect(zsub.stderrLines).toEqual([unreachable, ready]);
      expect(zsub.stdoutLines).toEqual(['first']);
    } finally {
      first.close();
      await later.close();
    }

    const help = await runZsub(['--help']);
    const text = help.stdout.join(' ').replace(/\s+/g, ' ');

    expect(text).not.toContain('the first line on stderr');
    expect(text).toContain(
      'Warnings, such as for an endpoint that cannot be reached yet, are written at once and can come before that line',
    );
    expect(text).toContain(
      'With several endpoints, events from the endpoints already live can come before it.',
    );
  });
});
