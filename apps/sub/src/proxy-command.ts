import { EndpointError, InvalidEndpointError } from '@zpub/protocol';
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from 'commander';
import { PREFIX, printable } from './notices.js';
import { USAGE_EXIT_CODE } from './options.js';
import { DEFAULT_MAX_CACHED_TOPICS, ZmqProxy } from './proxy.js';
import { flush } from './run.js';

/** Default of --frontend, where publishers connect. */
export const DEFAULT_FRONTEND = 'tcp://127.0.0.1:5556';

/** Default of --backend, where subscribers connect: zsub's default endpoint. */
export const DEFAULT_BACKEND = 'tcp://127.0.0.1:5555';

const HELP_AFTER = `
Publishers connect to the frontend, for example the server with
--publish-connect tcp://127.0.0.1:5556, and subscribers connect to the
backend, for example zsub --endpoint tcp://127.0.0.1:5555. Port 0 picks a
free port. Once both are bound, the proxy writes a line that begins with
"zsub: proxy ready, frontend ENDPOINT, backend ENDPOINT" to stderr.

The proxy runs until SIGINT or SIGTERM and then exits 0. It exits 1 when an
endpoint cannot be bound and 2 for a usage error.`;

interface ProxyFlags {
  frontend: string;
  backend: string;
  lastValueCache?: true;
  maxCachedTopics: number;
}

function parseTopicCount(value: string): number {
  const count = /^[0-9]{1,9}$/.test(value) ? Number(value) : 0;
  if (count < 1) {
    throw new InvalidArgumentError('Expected an integer from 1 to 999999999.');
  }

  return count;
}

/** Builds the commander program of `zsub proxy`. */
export function createProxyProgram(): Command {
  return new Command('zsub proxy')
    .description(
      'Forward zpub events from many ZeroMQ publishers to many subscribers.',
    )
    .helpOption('-h, --help', 'print this help and exit')
    .addOption(
      new Option(
        '--frontend <endpoint>',
        'endpoint to bind for publishers (XSUB)',
      )
        .env('ZSUB_PROXY_FRONTEND')
        .default(DEFAULT_FRONTEND),
    )
    .addOption(
      new Option(
        '--backend <endpoint>',
        'endpoint to bind for subscribers (XPUB)',
      )
        .env('ZSUB_PROXY_BACKEND')
        .default(DEFAULT_BACKEND),
    )
    .addOption(
      new Option(
        '--last-value-cache',
        'send each subscriber that joins the last event of every topic it subscribes to',
      ).env('ZSUB_PROXY_LAST_VALUE_CACHE'),
    )
    .addOption(
      new Option(
        '--max-cached-topics <topics>',
        'topics the last-value cache keeps; the least recently updated goes first',
      )
        .default(DEFAULT_MAX_CACHED_TOPICS)
        .argParser(parseTopicCount),
    )
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError("Run 'zsub proxy --help' for usage.")
    .configureOutput({
      outputError: (message, write) =>
        write(
          `${PREFIX}${message
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    })
    .exitOverride();
}

/** Runs `zsub proxy` with the arguments after `proxy`; returns the exit code. */
export async function runProxyCommand(
  args: readonly string[],
): Promise<number> {
  const program = createProxyProgram();
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    }
    throw error;
  }
  const flags = program.opts<ProxyFlags>();

  let proxy: ZmqProxy;
  try {
    proxy = await ZmqProxy.open({
      frontend: flags.frontend,
      backend: flags.backend,
      lastValueCache: flags.lastValueCache === true,
      maxCachedTopics: flags.maxCachedTopics,
    });
  } catch (error) {
    if (
      error instanceof InvalidEndpointError ||
      error instanceof EndpointError
    ) {
      process.stderr.write(
        `${PREFIX}${printable(error.message)}. Choose another endpoint with --frontend or --backend.\n`,
      );
      await flush(process.stderr);
      return 1;
    }
    throw error;
  }
  // The handlers are in place before the ready line, so that a signal sent
  // as soon as the line appears is handled.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const cache = flags.lastValueCache === true ? ', last-value cache on' : '';
  process.stderr.write(
    `${PREFIX}proxy ready, frontend ${proxy.frontend}, backend ${proxy.backend}${cache}\n`,
  );
  await stopped;
  await proxy.close();
  const { forwarded, cachedSent } = proxy.stats;
  process.stderr.write(
    `${PREFIX}proxy stopped after forwarding ${forwarded} messages and ${cachedSent} cached events\n`,
  );
  await flush(process.stderr);

  return 0;
}
