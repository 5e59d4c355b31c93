import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ZpubError } from '@zpub/protocol';

/** Default for {@link NatsStreamOptions.name}. */
export const DEFAULT_STREAM_NAME = 'ZPUB';

/** Default for {@link NatsStreamOptions.subjects}: every request event. */
export const DEFAULT_STREAM_SUBJECTS: readonly string[] = ['http.>'];

/** Default for {@link NatsStreamOptions.maxAgeMs}: 24 hours. */
export const DEFAULT_STREAM_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Default for {@link NatsStreamOptions.maxBytes}: 1 GiB. */
export const DEFAULT_STREAM_MAX_BYTES = 1024 ** 3;

/** The JetStream stream that stores published events. */
export interface NatsStreamOptions {
  /** @default 'ZPUB' */
  name?: string;
  /**
   * Subjects the stream stores. Events on other topics still go out on core
   * NATS, unstored.
   * @default ['http.>']
   */
  subjects?: readonly string[];
  /** Age after which stored events are removed, in milliseconds; 0 keeps them. @default 86400000 */
  maxAgeMs?: number;
  /** The maximum number of stored events, oldest removed first; -1 for no limit. @default -1 */
  maxMessages?: number;
  /** The maximum size of the stream in bytes, oldest removed first; -1 for no limit. @default 1073741824 */
  maxBytes?: number;
}

/** A stream name or stream configuration that JetStream cannot use. */
export class StreamConfigError extends ZpubError {
  override name = 'StreamConfigError';
}

/** Letters, digits, `-` and `_`: a name that is valid for JetStream and on disk. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws {@link StreamConfigError} for an invalid stream or consumer name. */
export function assertJetStreamName(kind: string, name: string): void {
  if (!NAME.test(name)) {
    throw new StreamConfigError(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1 to 64 letters, digits, - or _`,
    );
  }
}

/** Returns true when a stream subject `pattern` captures all of `subject`. */
export function patternCovers(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split('.');
  const tokens = subject.split('.');
  for (const [index, patternToken] of patternTokens.entries()) {
    const token = tokens[index];
    if (patternToken === '>') {
      return token !== undefined;
    }
    if (token === undefined || token === '>') {
      return false;
    }
    if (patternToken !== '*' && patternToken !== token) {
      return false;
    }
  }

  return tokens.length === patternTokens.length;
}

/**
 * Creates the stream, or checks an existing one and adds the subjects it
 * lacks. The limits of an existing stream are left as they are. Returns the
 * subjects the stream captures.
 */
export async function ensureStream(
  manager: JetStreamManager,
  options: NatsStreamOptions,
): Promise<string[]> {
  const name = options.name ?? DEFAULT_STREAM_NAME;
  assertJetStreamName('stream', name);
  const subjects = [...(options.subjects ?? DEFAULT_STREAM_SUBJECTS)];
  if (subjects.length === 0) {
    throw new StreamConfigError(`stream ${name} needs at least one subject`);
  }

  let existing: StreamConfig | undefined;
  try {
    existing = (await manager.streams.info(name)).config;
  } catch (error) {
    if (!isNotFound(error)) {
      throw error;
    }
  }
  if (existing === undefined) {
    await manager.streams.add({
      name,
      subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(options.maxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS),
      max_msgs: options.maxMessages ?? -1,
      max_bytes: options.maxBytes ?? DEFAULT_STREAM_MAX_BYTES,
    });

    return subjects;
  }

  const missing = subjects.filter(
    (subject) =>
      !existing.subjects.some((pattern) => patternCovers(pattern, subject)),
  );
  if (missing.length === 0) {
    return existing.subjects;
  }
  const merged = [...existing.subjects, ...missing];
  await manager.streams.update(name, { subjects: merged });

  return merged;
}

/** Returns true for JetStream's "stream not found" error. */
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === 10059 || error.code === 10014 || error.status === 404)
  );
}
