import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

/**
 * Returns the stream sequence from which the last `count` messages on the
 * subjects begin, or the first sequence when there are fewer. JetStream has
 * no "last N" deliver policy, so this runs a binary search over the
 * sequence range. Each probe creates a short-lived consumer whose
 * `num_pending` is the number of matching messages from that sequence on.
 * It takes about log2(messages in the stream) probes per subject.
 */
export async function startSequenceOfLast(
  manager: JetStreamManager,
  stream: string,
  subjects: readonly string[],
  count: number,
): Promise<number> {
  const { first_seq: first, last_seq: last } = (
    await manager.streams.info(stream)
  ).state;
  const matchingFrom = async (sequence: number): Promise<number> => {
    let total = 0;
    for (const subject of subjects) {
      total += await pendingFrom(manager, stream, subject, sequence);
    }
    return total;
  };
  if (last < first || (await matchingFrom(first)) <= count) {
    return Math.max(first, 1);
  }

  // Invariant: at least `count` matching messages are at or after `low`,
  // and fewer than `count` after `high`.
  let low = first;
  let high = last;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((await matchingFrom(middle)) >= count) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }

  return low;
}

async function pendingFrom(
  manager: JetStreamManager,
  stream: string,
  subject: string,
  sequence: number,
): Promise<number> {
  const info = await manager.consumers.add(stream, {
    ...(subject === '>' ? {} : { filter_subject: subject }),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: sequence,
    ack_policy: AckPolicy.None,
    inactive_threshold: nanos(10_000),
    mem_storage: true,
  });
  await manager.consumers.delete(stream, info.name);

  return info.num_pending;
}
