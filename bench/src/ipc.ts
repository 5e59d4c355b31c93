/**
 * Commands between the harness and its worker processes over Node's IPC
 * channel. A worker sends `{ type: 'ready', info }` once it is set up, then
 * replies to each `{ id, command, argument }` with `{ id, result }` or
 * `{ id, error }`.
 */

export interface ReadyMessage {
  type: 'ready';
  info: Record<string, unknown>;
}

export interface CommandMessage {
  id: number;
  command: string;
  argument?: unknown;
}

export interface ReplyMessage {
  id: number;
  result?: unknown;
  error?: string;
}

export type CommandHandlers = Record<string, (argument: unknown) => unknown>;

/**
 * Exits at once unless this process was started by the harness with an IPC
 * channel. Workers call it before they open sockets, which would otherwise
 * keep a stray worker alive.
 */
export function requireHarness(): void {
  if (process.send === undefined) {
    process.stderr.write(
      'this worker must be started by the bench harness: run pnpm bench\n',
    );
    process.exit(2);
  }
}

/**
 * Runs the harness's commands in a worker and reports it ready. The
 * worker exits when the harness goes away, so that no worker outlives it.
 */
export function serveCommands(
  info: Record<string, unknown>,
  handlers: CommandHandlers,
): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new Error(
      'this worker must be started by the bench harness: run pnpm bench',
    );
  }
  process.on('message', (message: CommandMessage) => {
    void answer(message);
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info } satisfies ReadyMessage);

  async function answer(message: CommandMessage): Promise<void> {
    const handler = handlers[message.command];
    let reply: ReplyMessage;
    if (handler === undefined) {
      reply = { id: message.id, error: `unknown command ${message.command}` };
    } else {
      try {
        reply = { id: message.id, result: await handler(message.argument) };
      } catch (error) {
        reply = { id: message.id, error: (error as Error).message };
      }
    }
    send?.(reply);
  }
}
