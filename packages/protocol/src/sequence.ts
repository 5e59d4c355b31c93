import { sequenceOf, type ZpubEvent } from './event.js';

/** What {@link SequenceTracker.observe} found out about one event. */
export type SequenceObservation =
  /** The event follows the previous one of its topic, or has no sequence. */
  | { kind: 'in-order' }
  /** The first event seen from this publisher instance on this topic. */
  | { kind: 'first'; instance: string | undefined }
  /** Events between the previous one and this one never arrived. */
  | {
      kind: 'gap';
      topic: string;
      instance: string;
      missed: number;
      expected: number;
      received: number;
    }
  /** The same source now has a new instance: its publisher restarted. */
  | { kind: 'restart'; source: string; previous: string; current: string }
  /** The sequence went back or repeated within one instance. */
  | {
      kind: 'out-of-order';
      topic: string;
      instance: string;
      received: number;
      last: number;
    };

/**
 * Follows the `sequence` of each topic per publisher instance and reports
 * gaps and restarts. Sequences count per topic, so a subscriber that filters
 * topics sees no gaps for topics it never subscribed to.
 *
 * A restart is a new `zpubinstance` for a `source` that had another one: its
 * sequences begin again, and no gap is reported across it.
 */
export class SequenceTracker {
  readonly #lastSequence = new Map<string, Map<string, number>>();
  readonly #instanceOfSource = new Map<string, string>();

  observe(topic: string, event: ZpubEvent): SequenceObservation {
    const instance = event.zpubinstance;
    const sequence = sequenceOf(event);
    if (typeof instance !== 'string' || sequence === undefined) {
      return { kind: 'in-order' };
    }

    const previousInstance = this.#instanceOfSource.get(event.source);
    this.#instanceOfSource.set(event.source, instance);
    let topics = this.#lastSequence.get(instance);
    if (topics === undefined) {
      topics = new Map();
      this.#lastSequence.set(instance, topics);
      if (previousInstance !== undefined && previousInstance !== instance) {
        this.#lastSequence.delete(previousInstance);
        topics.set(topic, sequence);

        return {
          kind: 'restart',
          source: event.source,
          previous: previousInstance,
          current: instance,
        };
      }
    }

    const last = topics.get(topic);
    topics.set(topic, sequence);
    if (last === undefined) {
      return { kind: 'first', instance };
    }
    if (sequence === last + 1) {
      return { kind: 'in-order' };
    }
    if (sequence <= last) {
      topics.set(topic, last);

      return {
        kind: 'out-of-order',
        topic,
        instance,
        received: sequence,
        last,
      };
    }

    return {
      kind: 'gap',
      topic,
      instance,
      missed: sequence - last - 1,
      expected: last + 1,
      received: sequence,
    };
  }
}
