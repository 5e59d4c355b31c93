/**
 * The contract between zpub and a messaging system. A transport moves
 * opaque messages of two frames, a topic and a payload; encoding, queueing
 * and filter semantics live above it, so a new transport is a new package
 * that implements these two interfaces and nothing else.
 */

/**
 * One message: the topic and the encoded payload. zpub's publisher passes
 * the payload as the event's JSON text, which a transport sends as UTF-8.
 * A string rather than bytes, because zeromq.js and nats.js convert it in
 * one step, while a Buffer above 128 bytes makes zeromq.js release it
 * later on the main thread, which wakes the event loop once per message.
 */
export interface TransportMessage {
  topic: string;
  payload: string | Uint8Array;
}

/**
 * A message that the transport has sent but whose storage a broker confirms
 * later, as JetStream does with a publish acknowledgement. `acknowledged`
 * rejects with {@link AcknowledgementTimeoutError} when no confirmation came
 * in time, and with another error when the broker rejected the message.
 */
export interface PendingAcknowledgement {
  readonly acknowledged: Promise<void>;
}

/** Sends messages. zpub's publisher calls `send` for one message at a time. */
export interface PublisherTransport {
  /** The endpoint as resolved after bind or connect, e.g. with a real port. */
  readonly endpoint: string;
  /**
   * True when `send` may return a {@link PendingAcknowledgement}, so that
   * the publisher keeps acknowledgement counters.
   */
  readonly acknowledges?: boolean;
  /**
   * True when `send` may be called again before the previous promise
   * settles, as for a transport whose sends never wait. zpub then hands over
   * every message of a turn of the event loop at once.
   */
  readonly concurrentSends?: boolean;
  /**
   * Returns false when events on `topic` must go one per message, as in a
   * JetStream stream, whose sequences, replay and consumers then count
   * events. Without this method every topic may be batched.
   */
  allowsBatches?(topic: string): boolean;
  /**
   * Sends one message. Unless `concurrentSends` is true, zpub never calls it
   * again before the returned promise settles, so a transport may keep a
   * single pending send. A transport with acknowledgements resolves once the
   * message is sent, with the pending acknowledgement, and must not wait for
   * the acknowledgement itself.
   */
  send(message: TransportMessage): Promise<void | PendingAcknowledgement>;
  /**
   * Returns true when a message on `topic` would reach at least one
   * subscriber now. A transport that cannot tell leaves it out, and zpub
   * then counts no event as unrouted.
   */
  hasSubscriber?(topic: string): boolean;
  /** Waits at most `lingerMs` for sent messages to leave, then closes. */
  close(lingerMs: number): Promise<void>;
}

/** State changes a subscriber transport reports beside its messages. */
export type SubscriberStatus =
  /** Connected to a publisher and past any handshake. */
  | { kind: 'connected'; endpoint: string }
  /** The publisher confirmed it applies every filter of this subscriber. */
  | { kind: 'live'; endpoint: string; confirmed: boolean }
  /** The connection was lost; the transport reconnects by itself. */
  | { kind: 'disconnected'; endpoint: string }
  /**
   * A fault that stops nothing, such as a failed handshake. `handshake` is
   * true when a connection was made but its handshake failed or never
   * finished, as with wrong CURVE keys: retrying will not help.
   */
  | { kind: 'warning'; endpoint: string; message: string; handshake?: boolean };

/** Called by a subscriber transport for each state change, at once. */
export type SubscriberStatusListener = (status: SubscriberStatus) => void;

/**
 * Receives messages whose topic begins with one of the filters and yields
 * each as its raw frames, so that zpub can report malformed ones. Filters
 * here are byte prefixes; whole-token matching is done above the transport.
 * State changes go to a {@link SubscriberStatusListener} given when the
 * transport is opened, so they are reported even while no one iterates.
 */
export interface SubscriberTransport extends AsyncIterable<Uint8Array[]> {
  close(): Promise<void>;
}
