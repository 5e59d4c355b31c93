import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * One TCP connection to an HTTP server, for requests that fetch cannot
 * send, such as malformed ones, or several on one connection.
 */
export class RawConnection {
  readonly #socket: Socket;
  #received = '';
  #waiters: (() => void)[] = [];
  /** Resolves with everything received once the server closes. */
  readonly closed: Promise<string>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.#received += text;
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#notify();
        resolve(this.#received);
      });
    });
    // A server that closes while a request is still being written makes
    // the write fail; what the server sent before it is still in `closed`.
    socket.on('error', () => {});
  }

  /** Connects to the port of an `http://127.0.0.1:PORT` URL. */
  static async open(url: string): Promise<RawConnection> {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');

    return new RawConnection(socket);
  }

  write(bytes: string | Buffer): void {
    this.#socket.write(bytes);
  }

  /** Resolves with everything received once it contains `text`. */
  async waitFor(text: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#received.includes(text)) {
      if (this.#socket.destroyed || Date.now() > deadline) {
        throw new Error(
          `expected ${JSON.stringify(text)}, received ${JSON.stringify(this.#received.slice(0, 200))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }

    return this.#received;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter();
    }
  }
}

/** Sends one request on a new connection and returns what the server sent before it closed. */
export async function exchange(
  url: string,
  request: string | Buffer,
): Promise<string> {
  const connection = await RawConnection.open(url);
  connection.write(request);

  return connection.closed;
}

/** Returns the status line of a response. */
export function statusLine(response: string): string {
  const end = response.indexOf('\r\n');

  return end === -1 ? response : response.slice(0, end);
}
