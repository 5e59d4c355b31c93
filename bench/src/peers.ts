import { connect as connectNats } from '@nats-io/transport-node';
import type { PublisherTransport, TransportMessage } from '@zpub/protocol';
import { connectAsync as connectMqtt } from 'mqtt';
import { createClient } from 'redis';

/** Brokers that the peer variants publish to, all on this machine. */
export const PEER_URLS = {
  redis: 'redis://127.0.0.1:6379',
  nats: '127.0.0.1:4222',
  mqtt: 'mqtt://127.0.0.1:1883',
} as const;

export type PeerKind = keyof typeof PEER_URLS;

export const PEER_KINDS = Object.keys(PEER_URLS) as PeerKind[];

/**
 * Opens a zpub publisher transport that sends each message to a broker with
 * the broker's standard Node.js client: Redis `PUBLISH` with `redis`, a NATS
 * publish with `@nats-io/transport-node`, an MQTT QoS 0 publish with `mqtt`.
 * The topic is the channel, subject or MQTT topic. `send` resolves once the
 * client has taken the message, as the ZeroMQ transport resolves once libzmq
 * has queued it, so the publisher batches the same way over every transport.
 */
export async function openPeerTransport(
  kind: PeerKind,
  onError: (error: Error) => void,
): Promise<PublisherTransport> {
  switch (kind) {
    case 'redis':
      return openRedis(onError);
    case 'nats':
      return openNats();
    case 'mqtt':
      return openMqtt(onError);
  }
}

async function openRedis(
  onError: (error: Error) => void,
): Promise<PublisherTransport> {
  const client = createClient({ url: PEER_URLS.redis });
  client.on('error', onError);
  await client.connect();

  return {
    endpoint: PEER_URLS.redis,
    concurrentSends: true,
    send(message: TransportMessage) {
      client
        .publish(message.topic, Buffer.from(message.payload))
        .catch(onError);
      return Promise.resolve();
    },
    async close() {
      await client.close();
    },
  };
}

async function openNats(): Promise<PublisherTransport> {
  const connection = await connectNats({ servers: PEER_URLS.nats });

  return {
    endpoint: `nats://${PEER_URLS.nats}`,
    concurrentSends: true,
    send(message: TransportMessage) {
      connection.publish(message.topic, message.payload);
      return Promise.resolve();
    },
    async close() {
      await connection.drain();
    },
  };
}

async function openMqtt(
  onError: (error: Error) => void,
): Promise<PublisherTransport> {
  const client = await connectMqtt(PEER_URLS.mqtt, { reconnectPeriod: 0 });
  client.on('error', onError);

  return {
    endpoint: PEER_URLS.mqtt,
    concurrentSends: true,
    send(message: TransportMessage) {
      client.publish(
        message.topic,
        Buffer.from(message.payload),
        { qos: 0 },
        (error) => {
          if (error !== undefined) {
            onError(error);
          }
        },
      );
      return Promise.resolve();
    },
    async close() {
      await client.endAsync();
    },
  };
}

/** A subscription to every topic of a broker, delivering raw payloads. */
export interface PeerSubscription {
  close(): Promise<void>;
}

/** Subscribes to every topic on a broker and calls `onMessage` for each. */
export async function subscribePeer(
  kind: PeerKind,
  onMessage: (topic: string, payload: Uint8Array) => void,
): Promise<PeerSubscription> {
  switch (kind) {
    case 'redis': {
      const client = createClient({ url: PEER_URLS.redis });
      await client.connect();
      await client.pSubscribe(
        '*',
        (message, channel) => onMessage(channel.toString(), message),
        true,
      );
      return { close: () => client.close() };
    }
    case 'nats': {
      const connection = await connectNats({ servers: PEER_URLS.nats });
      connection.subscribe('>', {
        callback: (error, message) => {
          if (error === null) {
            onMessage(message.subject, message.data);
          }
        },
      });
      await connection.flush();
      return { close: () => connection.drain() };
    }
    case 'mqtt': {
      const client = await connectMqtt(PEER_URLS.mqtt, { reconnectPeriod: 0 });
      client.on('message', (topic, payload) => onMessage(topic, payload));
      await client.subscribeAsync('#', { qos: 0 });
      return { close: () => client.endAsync() };
    }
  }
}
