import closeWithGrace from 'close-with-grace';
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildApp } from './app.js';
import { SECRET_KEY_VARIABLE, loadCurve, type LoadedCurve } from './curve.js';

/** Longest wait for in-flight requests and the event queue at shutdown. */
const SHUTDOWN_DELAY_MS = 10_000;

interface ServerFlags {
  host: string;
  port: number;
  publish: string;
  logLevel: string;
  curveSecretKeyFile?: string;
  curvePublicKey?: string;
  curveAllowFile?: string;
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
        'ZeroMQ endpoint to bind for events (tcp://IP:PORT or ipc://PATH; port 0 picks a free one)',
      )
        .env('ZPUB_PUBLISH')
        .default('tcp://127.0.0.1:5555'),
    )
    .addOption(
      new Option(
        '--curve-secret-key-file <path>',
        `file with the CURVE secret key, as \`zsub keygen --out\` writes it; turns on CURVE encryption. ${SECRET_KEY_VARIABLE} may hold the key itself`,
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
        'file with the public keys of the subscribers that may connect, one per line',
      ).env('ZPUB_CURVE_ALLOW_FILE'),
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

function isEndpointError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;

  return name === 'EndpointError' || name === 'InvalidEndpointError';
}

async function main(): Promise<void> {
  const flags = createProgram().parse().opts<ServerFlags>();
  let curve: LoadedCurve | undefined;
  try {
    curve = loadCurve(flags, process.env);
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
    zpub: { endpoint: flags.publish, curve: curve?.options },
  });

  try {
    await app.ready();
  } catch (error) {
    const hint = isEndpointError(error)
      ? '; choose another endpoint with --publish or ZPUB_PUBLISH'
      : '';
    app.log.fatal(
      { err: error },
      `cannot start: ${(error as Error).message}${hint}`,
    );
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
      const allowed =
        curve.allowedKeyCount === undefined
          ? 'no allowlist'
          : `${curve.allowedKeyCount} allowed subscriber keys`;
      app.log.info(
        { curvePublicKey: curve.publicKey },
        `CURVE is on (${allowed}); subscribers connect with --server-key ${curve.publicKey}`,
      );
    }
  } catch (error) {
    app.log.fatal({ err: error }, `cannot listen: ${(error as Error).message}`);
    await app.close();
    process.exit(1);
  }
}

await main();
