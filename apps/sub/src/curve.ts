import { readFileSync } from 'node:fs';
import {
  CurveConfigError,
  checkZ85Key,
  parseSecretKeyFile,
  type Notice,
  type ZmqCurveClientOptions,
} from '@zpub/client';
import { Option, type Command } from 'commander';
import { PREFIX, printable } from './notices.js';

/** Environment variable that contains this subscriber's secret key itself. */
export const SECRET_KEY_VARIABLE = 'ZSUB_CURVE_SECRET_KEY';

/**
 * How long zsub goes on after a failed handshake before it gives up, in
 * milliseconds. libzmq retries every 100 ms meanwhile, so a publisher that
 * was restarting is still reached. With the 3 s wait for a handshake that
 * never finishes, zsub exits within 5 s of connecting.
 */
export const HANDSHAKE_GRACE_MS = 1500;

/** Adds the CURVE options to zsub's program. */
export function addCurveOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--server-key <key>',
        "the publisher's CURVE public key (40 characters of Z85); turns on CURVE encryption",
      )
        .env('ZSUB_SERVER_KEY')
        .default(undefined, 'none, no encryption'),
    )
    .addOption(
      new Option(
        '--curve-key-file <path>',
        `file with this subscriber's CURVE secret key, as \`zsub keygen --out\` writes it (or the key itself in ${SECRET_KEY_VARIABLE})`,
      )
        .env('ZSUB_CURVE_KEY_FILE')
        .default(undefined, 'a new key pair for each run'),
    );
}

interface CurveProgramOptions {
  serverKey?: string;
  curveKeyFile?: string;
}

/**
 * Resolves the CURVE options of a run, or undefined without CURVE. Calls
 * `usageError`, which does not return, for a half-configured setup, an
 * unreadable key file or an invalid key. Secret keys never appear in it.
 */
export function resolveCurve(
  program: Command,
  env: NodeJS.ProcessEnv,
  usageError: (message: string) => never,
): ZmqCurveClientOptions | undefined {
  const { serverKey, curveKeyFile } = program.opts<CurveProgramOptions>();
  const secretFromEnv = env[SECRET_KEY_VARIABLE];
  const hasEnvSecret = secretFromEnv !== undefined && secretFromEnv !== '';
  if (serverKey === undefined) {
    if (curveKeyFile !== undefined || hasEnvSecret) {
      const given =
        curveKeyFile !== undefined ? '--curve-key-file' : SECRET_KEY_VARIABLE;
      usageError(
        `${given} is set but --server-key is missing; pass the publisher's public key with --server-key or ZSUB_SERVER_KEY`,
      );
    }
    return undefined;
  }
  if (curveKeyFile !== undefined && hasEnvSecret) {
    usageError(
      `both --curve-key-file and ${SECRET_KEY_VARIABLE} are set; set only one`,
    );
  }

  try {
    const curve: ZmqCurveClientOptions = {
      serverKey: checkZ85Key(serverKey, '--server-key'),
    };
    if (curveKeyFile !== undefined) {
      curve.secretKey = parseSecretKeyFile(
        readKeyFile(curveKeyFile, '--curve-key-file'),
        `--curve-key-file ${curveKeyFile}`,
      );
    } else if (hasEnvSecret) {
      curve.secretKey = checkZ85Key(secretFromEnv, SECRET_KEY_VARIABLE);
    }

    return curve;
  } catch (error) {
    if (error instanceof CurveConfigError) {
      return usageError(`${error.message}.`);
    }
    throw error;
  }
}

/**
 * Reads a key file or an allowlist. Throws {@link CurveConfigError} that
 * names `setting`, the flag that gave the path, when the file cannot be read.
 */
export function readKeyFile(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CurveConfigError(`cannot read ${setting} ${path}: ${reason}`);
  }
}

/**
 * Watches notices for a handshake that keeps failing, as with a wrong
 * server key or a key the publisher does not allow, and calls `giveUp` with
 * the line to print when no handshake succeeds within
 * {@link HANDSHAKE_GRACE_MS} of the failure.
 */
export function createHandshakeWatch(
  giveUp: (line: string) => void,
): (notice: Notice) => void {
  let timer: NodeJS.Timeout | undefined;

  return (notice) => {
    if (notice.kind === 'ready' || notice.kind === 'reconnected') {
      clearTimeout(timer);
      timer = undefined;
      return;
    }
    if (
      notice.kind !== 'warning' ||
      notice.handshake !== true ||
      timer !== undefined
    ) {
      return;
    }
    timer = setTimeout(() => {
      giveUp(
        `${PREFIX}cannot subscribe: the handshake with ${printable(notice.endpoint)} keeps failing. Check --server-key, this subscriber's key and the allowlist of the publisher or proxy.`,
      );
    }, HANDSHAKE_GRACE_MS);
    timer.unref();
  };
}
