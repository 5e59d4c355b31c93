import { CurveConfigError } from '@zpub/client';
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
import {
  addProxyCurveOptions,
  createRejectionLog,
  formatCurveLine,
  resolveProxyCurve,
  type LoadedProxyCurve,
  type ProxyCurveFlags,
} from './proxy-curve.js';
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

With a CURVE secret key, the proxy is the CURVE server of both endpoints
and encrypts every connection. It writes its public key to stderr before
the ready line. Publishers connect with it, for example the server with
--curve-server-key KEY and a key pair of its own, and so do subscribers,
with zsub --server-key KEY. An allowlist file admits only the keys on it,
one per line; without one, any client that has the proxy's public key may
connect. A rejected key is reported on stderr once per key and address,
in at most one line per 10 seconds for each endpoint.

The proxy runs until SIGINT or SIGTERM and then exits 0. It exits 1 when an
endpoint cannot be bound and 2 for a usage error, such as an allowlist
without a secret key or an unreadable key file.`;

interface ProxyFlags extends ProxyCurveFlags {
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
  const program = new Command('zsub proxy')
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
    );

  return addProxyCurveOptions(program)
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
  let curve: LoadedProxyCurve | undefined;
  try {
    curve = resolveProxyCurve(flags, process.env);
  } catch (error) {
    if (error instanceof CurveConfigError) {
      process.stderr.write(`${PREFIX}${printable(error.message)}.\n`);
      await flush(process.stderr);
      return USAGE_EXIT_CODE;
    }
    throw error;
  }
  const logRejection = createRejectionLog((line) => process.stderr.write(line));

  let proxy: ZmqProxy;
  try {
    proxy = await ZmqProxy.open({
      frontend: flags.frontend,
      backend: flags.backend,
      lastValueCache: flags.lastValueCache === true,
      maxCachedTopics: flags.maxCachedTopics,
      curve:
        curve === undefined
          ? undefined
          : {
              ...curve.options,
              onRejected: logRejection,
              onError: (error, side) => {
                process.stderr.write(
                  `${PREFIX}proxy's ZAP handler on the ${side} failed: ${printable(error.message)}. New CURVE handshakes there fail until the proxy restarts.\n`,
                );
              },
            },
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
    if (error instanceof CurveConfigError) {
      // An invalid key is caught above, so this is a build without CURVE.
      process.stderr.write(`${PREFIX}${printable(error.message)}.\n`);
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
  const curveOn = curve === undefined ? '' : ', CURVE on';
  if (curve !== undefined) {
    process.stderr.write(`${formatCurveLine(curve)}\n`);
  }
  process.stderr.write(
    `${PREFIX}proxy ready, frontend ${proxy.frontend}, backend ${proxy.backend}${cache}${curveOn}\n`,
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
