import { InvalidTopicError } from './errors.js';

/**
 * Topics that begin with this prefix carry control messages, not events.
 * `~` is not a valid topic character, so no event topic can begin with it,
 * and it sorts after every character that is, so libzmq sends a subscriber's
 * control subscriptions after its topic filters when it resends them all.
 */
export const CONTROL_PREFIX = '~zpub.';

/**
 * Prefix of the subscription a subscriber makes to learn that the publisher
 * applies its filters. The publisher answers with a message on the topic
 * `HELLO_PREFIX + nonce` that the subscriber chose.
 */
export const HELLO_PREFIX = `${CONTROL_PREFIX}hello.`;

/** Topic prefix of the events zpub publishes for HTTP requests. */
export const REQUEST_TOPIC_PREFIX = 'http';

/** Route token of the route `/`. */
export const ROOT_ROUTE_TOKEN = '_root';

/** Route token of a request that matched no route (a 404 from Fastify). */
export const UNMATCHED_ROUTE_TOKEN = '_unmatched';

/**
 * Topic of the events for requests that Node.js's HTTP parser rejected
 * before Fastify routed them, such as a request line and headers over
 * `maxHeaderSize`. The method token of a request topic never begins with
 * `_`, which is escaped as `%5F`, so no request topic is under this one.
 */
export const REJECTED_REQUEST_TOPIC = `${REQUEST_TOPIC_PREFIX}._rejected`;

/** The maximum length of a topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024;

const SAFE_TOKEN_CHARACTER = /[A-Za-z0-9_:-]/;
const TOKEN = /^[A-Za-z0-9_:%-]+$/;
const encoder = new TextEncoder();

/**
 * Checks a topic that an application publishes on, and throws
 * {@link InvalidTopicError} with the reason when it is not valid.
 *
 * A topic is one or more tokens joined by `.`; a token is made of ASCII
 * letters, digits, `_`, `-`, `:` and `%`. Such a topic is also a valid NATS
 * subject with no wildcards.
 */
export function assertTopic(topic: string): void {
  if (topic.length === 0) {
    throw new InvalidTopicError(topic, 'a topic must not be empty');
  }
  if (encoder.encode(topic).length > MAX_TOPIC_BYTES) {
    throw new InvalidTopicError(
      topic,
      `a topic must be at most ${MAX_TOPIC_BYTES} bytes`,
    );
  }

  for (const token of topic.split('.')) {
    if (token.length === 0) {
      throw new InvalidTopicError(
        topic,
        'a topic must not begin or end with "." or contain ".."',
      );
    }
    if (!TOKEN.test(token)) {
      throw new InvalidTopicError(
        topic,
        `token ${JSON.stringify(token)} may contain only letters, digits, "_", "-", ":" and "%"`,
      );
    }
  }
}

/** Returns true when `topic` passes {@link assertTopic}. */
export function isValidTopic(topic: string): boolean {
  try {
    assertTopic(topic);
    return true;
  } catch {
    return false;
  }
}

/** Returns true for topics that carry control messages, such as readiness. */
export function isControlTopic(topic: string): boolean {
  return topic.startsWith(CONTROL_PREFIX);
}

/**
 * Checks a topic an application chooses for its own messages: a valid topic
 * that does not begin with `_`, which zpub keeps for itself, and is not under
 * `http`, where request events live.
 */
export function assertCustomTopic(topic: string): void {
  assertTopic(topic);
  if (topic.startsWith('_')) {
    throw new InvalidTopicError(
      topic,
      'topics that begin with "_" are reserved for zpub',
    );
  }
  if (matchesFilter(topic, REQUEST_TOPIC_PREFIX)) {
    throw new InvalidTopicError(
      topic,
      `topics under "${REQUEST_TOPIC_PREFIX}." are reserved for request events`,
    );
  }
}

/**
 * Escapes one path segment of a route into a topic token. Characters other
 * than ASCII letters, digits, `_`, `-` and `:` become `%XX`, the hex of each
 * UTF-8 byte, as in a URL. A leading `_` is escaped too, so tokens that begin
 * with `_` stay free for zpub's own route tokens.
 */
export function escapeRouteSegment(segment: string): string {
  let token = '';
  for (const character of segment) {
    if (SAFE_TOKEN_CHARACTER.test(character)) {
      token += character;
      continue;
    }
    for (const byte of encoder.encode(character)) {
      token += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }

  return token.startsWith('_') ? `%5F${token.slice(1)}` : token;
}

/**
 * Returns the topic of the request event for `method` and a route pattern
 * such as `/print/:number`, e.g. `http.GET.print.:number`. `/` maps to
 * `http.GET._root` and `undefined` (no route matched) to
 * `http.GET._unmatched`. Empty segments, as from a trailing slash, are left
 * out.
 */
export function requestTopic(
  method: string,
  route: string | undefined,
): string {
  const methodToken = escapeRouteSegment(method.toUpperCase());
  if (route === undefined) {
    return `${REQUEST_TOPIC_PREFIX}.${methodToken}.${UNMATCHED_ROUTE_TOKEN}`;
  }

  const tokens = route
    .split('/')
    .filter((segment) => segment.length > 0)
    .map(escapeRouteSegment);
  if (tokens.length === 0) {
    tokens.push(ROOT_ROUTE_TOKEN);
  }

  return [REQUEST_TOPIC_PREFIX, methodToken, ...tokens].join('.');
}

/**
 * Checks a topic filter. The empty filter matches every topic; any other
 * filter must be a valid topic.
 */
export function assertTopicFilter(filter: string): void {
  if (filter === '') {
    return;
  }
  assertTopic(filter);
}

/**
 * Returns true when `topic` matches `filter`: the filter is empty, equals the
 * topic, or is a whole-token prefix of it. `number` matches `number` and
 * `number.7`, never `numbers`.
 */
export function matchesFilter(topic: string, filter: string): boolean {
  if (filter === '' || topic === filter) {
    return true;
  }

  return topic.startsWith(filter) && topic.charCodeAt(filter.length) === 0x2e;
}

/** Returns true when `topic` matches at least one of `filters`. */
export function matchesAnyFilter(
  topic: string,
  filters: readonly string[],
): boolean {
  return filters.some((filter) => matchesFilter(topic, filter));
}
