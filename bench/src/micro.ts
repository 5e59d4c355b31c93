/**
 * Costs of the single steps of publishing, each timed in a loop in this
 * process: the old and the new way of building an event, and a ZeroMQ send
 * with zeromq.js's default send timeout and with a timeout of 0. The
 * harness runs it on the server core; it prints one JSON object.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEncoder, IsoClock } from '@zpub/client';
import { serializeRequestData } from '@zpub/fastify';
import {
  REQUEST_EVENT_TYPE,
  createEvent,
  type RequestEventData,
} from '@zpub/protocol';
import { Subscriber, XPublisher } from 'zeromq';

/** Nanoseconds per call of each step, by name. */
export type MicroResult = Record<string, number>;

const SOURCE = 'zpub://bench/tcp/127.0.0.1:5555';
const TOPIC = 'http.GET.print.:number';

let sink: unknown;

function time(calls: number, step: () => unknown): number {
  for (let call = 0; call < calls / 10; call++) {
    sink = step();
  }
  const start = process.hrtime.bigint();
  for (let call = 0; call < calls; call++) {
    sink = step();
  }

  return Number(process.hrtime.bigint() - start) / calls;
}

/** Times `count` sends to a live subscriber, awaiting each as zpub did. */
async function timeSends(
  sendTimeout: number | undefined,
  count: number,
): Promise<number> {
  const publisher = new XPublisher({ linger: 0 });
  if (sendTimeout !== undefined) {
    publisher.sendTimeout = sendTimeout;
  }
  await publisher.bind('tcp://127.0.0.1:*');
  const subscriber = new Subscriber({ linger: 0 });
  subscriber.subscribe();
  subscriber.connect(publisher.lastEndpoint as string);
  const received = (async () => {
    for await (const _message of subscriber) {
      // drain
    }
  })();
  await sleep(300);
  const payload = Buffer.alloc(500, 0x61);
  const start = process.hrtime.bigint();
  for (let index = 0; index < count; index++) {
    await publisher.send([TOPIC, payload]);
  }
  const elapsed = Number(process.hrtime.bigint() - start) / count;
  publisher.close();
  subscriber.close();
  await received.catch(() => undefined);

  return elapsed;
}

/** The data of a request event for `GET /print/7` from wrk. */
const SAMPLE_DATA: RequestEventData = {
  method: 'GET',
  path: '/print/7',
  route: '/print/:number',
  params: { number: 7 },
  query: {},
  status: 200,
  durationMs: 0.041,
  requestId: 'req-1f',
  clientAddress: '127.0.0.1',
  responseSize: 8,
};

async function runMicro(): Promise<MicroResult> {
  const data = SAMPLE_DATA;
  const instance = randomUUID();
  const encoder = new EventEncoder(SOURCE, instance);
  const topic = encoder.topic(TOPIC);
  const clock = new IsoClock();
  const calls = 200_000;
  const dataJson = serializeRequestData(data);
  let counter = 0;

  return {
    'randomUUID()': time(calls, () => randomUUID()),
    'counter id': time(calls, () => `${instance}-${++counter}`),
    'new Date().toISOString()': time(calls, () => new Date().toISOString()),
    'IsoClock.now()': time(calls, () => clock.now()),
    'JSON.stringify(request data)': time(calls, () => JSON.stringify(data)),
    'serializeRequestData (fast-json-stringify)': time(calls, () =>
      serializeRequestData(data),
    ),
    'event: createEvent + JSON.stringify': time(calls, () =>
      JSON.stringify(
        createEvent({
          id: randomUUID(),
          source: SOURCE,
          type: REQUEST_EVENT_TYPE,
          time: new Date().toISOString(),
          topic: TOPIC,
          sequence: 1,
          instance,
          data,
        }),
      ),
    ),
    'event: EventEncoder.encode': time(calls, () =>
      encoder.encode(topic, REQUEST_EVENT_TYPE, dataJson),
    ),
    'awaited send, default sendTimeout': await timeSends(undefined, 50_000),
    'awaited send, sendTimeout 0': await timeSends(0, 50_000),
  };
}

process.stdout.write(`${JSON.stringify(await runMicro())}\n`);
void sink;
