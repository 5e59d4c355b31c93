import { DATA_CONTENT_TYPE, SPEC_VERSION } from '@zpub/protocol';

/** `000Z` … `999Z`: the milliseconds and zone of an ISO 8601 UTC time. */
const MILLISECOND_SUFFIXES = Array.from(
  { length: 1000 },
  (_, millisecond) => `${String(millisecond).padStart(3, '0')}Z`,
);

/**
 * Formats the current time as `Date.prototype.toISOString` does, reusing the
 * text up to the second, so that most calls cost one Date.now() and one
 * string concatenation instead of a Date and its formatting.
 */
export class IsoClock {
  #second = Number.NaN;
  #secondPrefix = '';
  #millisecond = Number.NaN;
  #text = '';

  /** Returns the time of `epochMs` (default: now) as an ISO 8601 UTC string. */
  now(epochMs = Date.now()): string {
    if (epochMs === this.#millisecond) {
      return this.#text;
    }
    const second = Math.floor(epochMs / 1000);
    if (second !== this.#second) {
      const iso = new Date(second * 1000).toISOString();
      // Everything up to and including the "." before the milliseconds; a
      // year past 9999 makes the text longer, so cut from the end.
      this.#secondPrefix = iso.slice(0, -4);
      this.#second = second;
    }
    this.#millisecond = epochMs;
    this.#text =
      this.#secondPrefix +
      (MILLISECOND_SUFFIXES[epochMs - second * 1000] as string);

    return this.#text;
  }
}

/**
 * Distinct `type` values whose escaped text is kept; events of further types
 * are escaped each time.
 */
const MAX_CACHED_TYPES = 64;

/** Per-topic state of the encoder. */
export interface TopicEncoding {
  readonly topic: string;
  /** The text from the end of `time` to the start of the sequence digits. */
  readonly head: string;
  /** The sequence of the last event encoded on this topic. */
  sequence: number;
}

/**
 * Writes the CloudEvents JSON of one publisher instance's events by joining
 * precomputed text, with the attributes in the order and form that
 * JSON.stringify gives for `createEvent`'s object. Only the data is
 * serialized per event.
 *
 * The parts that are not escaped per event need no escaping. A valid topic
 * has only ASCII letters, digits and `_ - : % .`, and ids, sequences and
 * times have only digits, letters, `-`, `:` and `.`. `source`, the instance
 * and `type` are escaped once, with JSON.stringify.
 *
 * Event ids are the instance followed by `-` and a counter that starts at
 * 1, so that `source` and `id` together are unique for as long as instances
 * are.
 */
export class EventEncoder {
  readonly #clock = new IsoClock();
  readonly #idHead: string;
  readonly #afterId: string;
  readonly #afterSequence: string;
  readonly #typeHeads = new Map<string, string>();
  #count = 0;

  constructor(source: string, instance: string) {
    const instanceText = JSON.stringify(instance).slice(1, -1);
    this.#idHead = `{"specversion":${JSON.stringify(SPEC_VERSION)},"id":"${instanceText}-`;
    this.#afterId = `","source":${JSON.stringify(source)},"type":`;
    this.#afterSequence = `","zpubinstance":"${instanceText}"`;
  }

  /** Events encoded so far; the id of the next one ends with this plus 1. */
  get count(): number {
    return this.#count;
  }

  /** Returns the per-topic state for a topic that assertTopic accepted. */
  topic(topic: string): TopicEncoding {
    return {
      topic,
      head: `","datacontenttype":${JSON.stringify(DATA_CONTENT_TYPE)},"topic":"${topic}","sequence":"`,
      sequence: 0,
    };
  }

  /**
   * Returns the JSON text of the next event on `topic`, and counts it in the
   * topic's sequence. `dataJson` is the data as JSON text, or undefined for
   * an event without data, as JSON.stringify leaves out an undefined member.
   */
  encode(
    topic: TopicEncoding,
    type: string,
    dataJson: string | undefined,
  ): string {
    let typeHead = this.#typeHeads.get(type);
    if (typeHead === undefined) {
      typeHead = `${JSON.stringify(type)},"time":"`;
      if (this.#typeHeads.size < MAX_CACHED_TYPES) {
        this.#typeHeads.set(type, typeHead);
      }
    }
    const sequence = ++topic.sequence;
    const id = ++this.#count;
    const tail = dataJson === undefined ? '}' : `,"data":${dataJson}}`;

    return (
      this.#idHead +
      id +
      this.#afterId +
      typeHead +
      this.#clock.now() +
      topic.head +
      sequence +
      this.#afterSequence +
      tail
    );
  }
}
