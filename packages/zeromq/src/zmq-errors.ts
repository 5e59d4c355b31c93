import type { Observer } from 'zeromq';

/** Returns libzmq's message for an error, e.g. "Address already in use". */
export function describeZmqError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }

  return String(error);
}

/**
 * Calls `report` with the address and the reason of every failed ZMTP
 * handshake of a socket's connections. `rejection` starts the reason when
 * the peer's ZAP handler rejected this socket's key, such as "the publisher
 * rejected this subscriber's key". libzmq retries a connection every 100 ms
 * and fails the same way, so callers report each address once.
 */
export function watchHandshakeErrors(
  events: Observer,
  rejection: string,
  report: (address: string, reason: string) => void,
): void {
  events.on('handshake:error:auth', ({ address, error }) => {
    report(address, `${rejection} (ZAP status ${error.status})`);
  });
  events.on('handshake:error:protocol', ({ address, error }) => {
    const reason =
      error.code === 'ERR_ZMTP_MECHANISM_MISMATCH'
        ? 'one side uses CURVE and the other does not'
        : error.message;
    report(address, `${reason} (${error.code})`);
  });
  events.on('handshake:error:other', ({ address, error }) => {
    report(
      address,
      `the connection closed during the handshake (${describeZmqError(error)}), as when the CURVE server key is wrong`,
    );
  });
}
