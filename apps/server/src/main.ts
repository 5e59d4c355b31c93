import closeWithGrace from 'close-with-grace';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  EndpointError,
  InvalidEndpointError,
  assertJetStreamName,
} from '@zpub/client';
import { parseDuration } from '@zpub/protocol';
import type { ZpubPluginOptions } from '@zpub/fastify';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp } from './app.js';
import {
  SECRET_KEY_VARIABLE,
  SERVER_KEY_VARIABLE,
  loadCurve,
  type LoadedCurve,
} from './curve.js';

/** Maximum wait for in-flight requests and the event queue at shutdown. */
const SHUTDOWN_DELAY_MS = 10_000;

/** Default of --stream-subjects: request events and the `number` topic. */
const DEFAULT_STREAM_SUBJECTS = 'http.>,number,number.>';

interface ServerFlags {
  host: string;
  port: number;
  publish: string;
  publishMode: 'bind' | 'connect';
  publishConnect?: string;
  stream?: string;
  streamSubjects: string;
  streamMaxAge: number;
  logLevel: string;
  curveSecretKeyFile?: string;
  curvePublicKey?: string;
  curveAllowFile?: string;
  curveServerKey?: string;
}

function parseMaxAge(value: string): number {
  if (value.trim() === '0') {
    return 0;
  }
  const milliseconds = parseDuration(value);
  if (milliseconds === undefined) {
    throw new InvalidArgumentError(
      'expected a duration such as 30m, 24h or 7d, or 0 to keep events until the size limit',
    );
  }

  return milliseconds;
}

function parseStreamName(value: string): string {
  try {
    assertJetStreamName('stream', value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }

  return value;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('expected an integer from 0 to 65535');
  }

  return port;
}

function createProgram(): Command {
  return new Command('server')
    .description('Fastify service that publishes an event for every request')
    .addOption(
      new Option('--host <address>', 'address for HTTP to listen on')
        .env('HOST')
        .default('127.0.0.1'),
    )
    .addOption(
      new Option('--port <number>', 'HTTP port; 0 picks a free one')
        .env('PORT')
        .default(5000)
        .argParser(parsePort),
    )
    .addOption(
      new Option(
        '--publish <endpoint>',
        'where to publish events: a ZeroMQ endpoint to bind (tcp://IP:PORT or ipc://PATH; port 0 picks a free one) or a NATS server (nats://HOST:PORT)',
      )
        .env('ZPUB_PUBLISH')
        .default('tcp://127.0.0.1:5555'),
    )
    .addOption(
      new Option(
        '--publish-mode <mode>',
        'bind the ZeroMQ endpoint, or connect to it, as to the frontend of a zsub proxy',
      )
        .env('ZPUB_PUBLISH_MODE')
        .choices(['bind', 'connect'])
        .default('bind'),
    )
    .addOption(
      new Option(
        '--publish-connect <endpoint>',
        'connect to this ZeroMQ endpoint, such as a zsub proxy frontend; same as --publish ENDPOINT --publish-mode connect',
      ).env('ZPUB_PUBLISH_CONNECT'),
    )
    .addOption(
      new Option(
        '--stream <name>',
        'store events in this JetStream stream, created at startup if missing (needs a nats:// --publish)',
      )
        .env('ZPUB_STREAM')
        .argParser(parseStreamName),
    )
    .addOption(
      new Option(
        '--stream-subjects <subjects>',
        'subjects the stream stores, separated by commas; other topics go out on core NATS only',
      )
        .env('ZPUB_STREAM_SUBJECTS')
        .default(DEFAULT_STREAM_SUBJECTS),
    )
    .addOption(
      new Option(
        '--stream-max-age <duration>',
        'age after which a new stream removes events, such as 24h or 7d; 0 keeps them until the 1 GiB size limit',
      )
        .env('ZPUB_STREAM_MAX_AGE')
        .default(24 * 60 * 60 * 1000, '24h')
        .argParser(parseMaxAge),
    )
    .addOption(
      new Option(
        '--curve-secret-key-file <path>',
        `file with this server's CURVE secret key, as \`zsub keygen --out\` writes it; turns on CURVE encryption, in connect mode together with --curve-server-key. ${SECRET_KEY_VARIABLE} may hold the key itself`,
      ).env('ZPUB_CURVE_SECRET_KEY_FILE'),
    )
    .addOption(
      new Option(
        '--curve-public-key <key>',
        'the public key that belongs to the secret key; checked at startup',
      ).env('ZPUB_CURVE_PUBLIC_KEY'),
    )
    .addOption(
      new Option(
        '--curve-allow-file <path>',
        'bind mode only: file with the public keys of the subscribers that may connect, one per line',
      ).env('ZPUB_CURVE_ALLOW_FILE'),
    )
    .addOption(
      new Option(
        '--curve-server-key <key>',
        "connect mode only: the proxy's CURVE public key, which zsub proxy logs at startup; the server connects as a CURVE client with its own key pair",
      ).env(SERVER_KEY_VARIABLE),
    )
    .addOption(
      new Option('--log-level <level>', 'pino log level')
        .env('LOG_LEVEL')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .showHelpAfterError("Run 'pnpm --filter server start -- --help' for usage.")
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
}

function isEndpointError(
  error: unknown,
): error is EndpointError | InvalidEndpointError {
  return (
    error instanceof EndpointError || error instanceof InvalidEndpointError
  );
}

/**
 * Returns what to do about an endpoint that failed at startup, as a
 * sentence. The error's message already names the endpoint and the reason.
 */
function describeEndpointFix(
  error: EndpointError | InvalidEndpointError,
): string {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return 'Another process uses that address: pick another port with --publish or ZPUB_PUBLISH (port 0 picks a free one), or stop the other process.';
  }

  return 'Check the endpoint in --publish or ZPUB_PUBLISH, and for nats:// that the NATS server runs with JetStream when --stream is set.';
}

/** Turns the publish flags into plugin options, or exits 2 for a conflict. */
function resolvePublishOptions(
  program: Command,
  flags: ServerFlags,
): ZpubPluginOptions {
  const usageError = (message: string): never =>
    program.error(`error: ${message}`, { exitCode: 2 });
  let endpoint = flags.publish;
  let mode = flags.publishMode;
  if (flags.publishConnect !== undefined) {
    if (program.getOptionValueSource('publish') === 'cli') {
      usageError('--publish-connect cannot be combined with --publish');
    }
    endpoint = flags.publishConnect;
    mode = 'connect';
  }
  const isNats = endpoint.startsWith('nats://');
  if (isNats && mode === 'connect' && flags.publishConnect !== undefined) {
    usageError(
      '--publish-connect takes a ZeroMQ endpoint; pass a nats:// endpoint with --publish',
    );
  }
  if (flags.stream === undefined) {
    return { endpoint, mode };
  }
  if (!isNats) {
    usageError(
      `--stream needs a nats:// endpoint in --publish, got ${JSON.stringify(endpoint)}`,
    );
  }
  const subjects = flags.streamSubjects
    .split(',')
    .map((subject) => subject.trim())
    .filter((subject) => subject !== '');

  return {
    endpoint,
    mode,
    stream: { name: flags.stream, subjects, maxAgeMs: flags.streamMaxAge },
  };
}

/** Logs the CURVE role and the public key that the other side needs. */
function logCurve(log: FastifyBaseLogger, curve: LoadedCurve): void {
  if (curve.serverKey !== undefined) {
    log.info(
      { curvePublicKey: curve.publicKey, curveServerKey: curve.serverKey },
      `CURVE is on as a client of the proxy with public key ${curve.serverKey}; a proxy with a frontend allowlist needs this server's public key ${curve.publicKey}`,
    );
    return;
  }
  const allowed =
    curve.allowedKeyCount === undefined
      ? 'no allowlist'
      : `${curve.allowedKeyCount} allowed subscriber keys`;
  log.info(
    { curvePublicKey: curve.publicKey },
    `CURVE is on (${allowed}); subscribers connect with --server-key ${curve.publicKey}`,
  );
}

async function main(): Promise<void> {
  const program = createProgram();
  // pnpm 10 passes the `--` of `pnpm --filter server start -- --port 8080`
  // on to the script, where commander would read the flags after it as
  // arguments.
  const args = process.argv.slice(2);
  if (args[0] === '--') {
    args.shift();
  }
  const flags = program.parse(args, { from: 'user' }).opts<ServerFlags>();
  const publishOptions = resolvePublishOptions(program, flags);
  let curve: LoadedCurve | undefined;
  try {
    curve = loadCurve(flags, publishOptions.mode ?? 'bind', process.env);
  } catch (error) {
    // Written as pino would, since the app and its logger do not exist yet.
    process.stdout.write(
      `${JSON.stringify({ level: 60, time: Date.now(), msg: `cannot start: ${(error as Error).message}` })}\n`,
    );
    process.exitCode = 1;
    return;
  }
  const app = buildApp({
    logger: { level: flags.logLevel },
    zpub: { ...publishOptions, curve: curve?.options },
  });

  try {
    await app.ready();
  } catch (error) {
    if (isEndpointError(error)) {
      // The message is complete, and a stack would only repeat it.
      app.log.fatal(
        { endpoint: error.endpoint },
        `cannot start: ${error.message}. ${describeEndpointFix(error)}`,
      );
    } else {
      app.log.fatal(
        { err: error },
        `cannot start: ${(error as Error).message}`,
      );
    }
    process.exitCode = 1;
    return;
  }

  closeWithGrace(
    { delay: SHUTDOWN_DELAY_MS, logger: false },
    async ({ signal, err }) => {
      if (err !== undefined) {
        app.log.error({ err }, 'server closing after an error');
      } else {
        app.log.info({ signal }, 'server closing');
      }
      await app.close();
    },
  );

  try {
    const url = await app.listen({ host: flags.host, port: flags.port });
    app.log.info(
      { url, publish: app.zpub.endpoint, curvePublicKey: curve?.publicKey },
      `zpub server listening on ${url}, publishing on ${app.zpub.endpoint}`,
    );
    if (curve !== undefined) {
      logCurve(app.log, curve);
    }
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EADDRINUSE') {
      // The message is complete, and a stack would only repeat it.
      const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
      const address = `${host}:${flags.port}`;
      app.log.fatal(
        { address },
        `cannot listen on ${address}: address already in use. Another process uses that address: pick another port with --port or PORT (0 picks a free one), or stop the other process.`,
      );
    } else {
      app.log.fatal(
        { err: error },
        `cannot listen: ${(error as Error).message}`,
      );
    }
    await app.close();
    process.exit(1);
  }
}

await main();
