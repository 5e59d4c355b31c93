import { readFileSync } from 'node:fs';
import {
  CurveConfigError,
  assertCurveAvailable,
  checkZ85Key,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '@zpub/client';

/** The CURVE settings of the server, from flags and the environment. */
export interface CurveSettings {
  /** --curve-secret-key-file: a file that contains the secret key. */
  curveSecretKeyFile?: string;
  /** --curve-public-key: the expected public key, checked at startup. */
  curvePublicKey?: string;
  /** --curve-allow-file: allowed subscriber public keys, one per line. */
  curveAllowFile?: string;
  /** --curve-server-key: in connect mode, the CURVE public key of the proxy. */
  curveServerKey?: string;
}

/** Environment variable that contains the secret key itself. */
export const SECRET_KEY_VARIABLE = 'ZPUB_CURVE_SECRET_KEY';

/** Environment variable of --curve-server-key. */
export const SERVER_KEY_VARIABLE = 'ZPUB_CURVE_SERVER_KEY';

/** The publisher's CURVE options and the public keys to log at startup. */
export interface LoadedCurve {
  /** Server options in bind mode, client options in connect mode. */
  options: ZmqCurveServerOptions | ZmqCurveClientOptions;
  /** This server's own public key. */
  publicKey: string;
  /** Keys on the allowlist in bind mode; undefined without one. */
  allowedKeyCount: number | undefined;
  /** In connect mode, the public key of the proxy that the server connects to. */
  serverKey: string | undefined;
}

/**
 * Resolves the CURVE options from the settings, or returns undefined when no
 * CURVE setting is given. In bind mode the server is the CURVE server, and in
 * connect mode it is the CURVE client of a proxy, which needs the proxy's
 * public key. Throws {@link CurveConfigError} naming the setting for a
 * half-configured setup, a setting of the other mode, an unreadable file or
 * an invalid key. Secret keys never appear in a message.
 */
export function loadCurve(
  settings: CurveSettings,
  mode: 'bind' | 'connect',
  env: NodeJS.ProcessEnv,
): LoadedCurve | undefined {
  const secretFromEnv = env[SECRET_KEY_VARIABLE];
  const hasEnvSecret = secretFromEnv !== undefined && secretFromEnv !== '';
  const { curveSecretKeyFile, curvePublicKey, curveAllowFile, curveServerKey } =
    settings;
  if (
    !hasEnvSecret &&
    curveSecretKeyFile === undefined &&
    curvePublicKey === undefined &&
    curveAllowFile === undefined &&
    curveServerKey === undefined
  ) {
    return undefined;
  }

  rejectSettingOfOtherMode(settings, mode);
  if (hasEnvSecret && curveSecretKeyFile !== undefined) {
    throw new CurveConfigError(
      `both ${SECRET_KEY_VARIABLE} and --curve-secret-key-file are set; set only one`,
    );
  }
  if (!hasEnvSecret && curveSecretKeyFile === undefined) {
    const given =
      curveServerKey !== undefined
        ? '--curve-server-key'
        : curvePublicKey !== undefined
          ? '--curve-public-key'
          : '--curve-allow-file';
    throw new CurveConfigError(
      `${given} is set but the CURVE secret key is missing; set --curve-secret-key-file or ${SECRET_KEY_VARIABLE}`,
    );
  }
  if (mode === 'connect' && curveServerKey === undefined) {
    const secretSource = hasEnvSecret
      ? SECRET_KEY_VARIABLE
      : '--curve-secret-key-file';
    throw new CurveConfigError(
      `${secretSource} is set in connect mode but --curve-server-key is missing; a server that connects to a proxy is its CURVE client and needs the proxy's public key, which zsub proxy logs at startup. Set --curve-server-key or ${SERVER_KEY_VARIABLE}`,
    );
  }
  assertCurveAvailable();

  const secretKey = hasEnvSecret
    ? checkZ85Key(secretFromEnv, SECRET_KEY_VARIABLE)
    : parseSecretKeyFile(
        readSetting(curveSecretKeyFile as string, '--curve-secret-key-file'),
        `--curve-secret-key-file ${curveSecretKeyFile as string}`,
      );
  const publicKey = publicKeyOf(secretKey);
  if (
    curvePublicKey !== undefined &&
    checkZ85Key(curvePublicKey, '--curve-public-key') !== publicKey
  ) {
    throw new CurveConfigError(
      `--curve-public-key does not belong to the CURVE secret key; its public key is ${publicKey}`,
    );
  }
  if (mode === 'connect') {
    const serverKey = checkZ85Key(
      curveServerKey as string,
      '--curve-server-key',
    );

    return {
      options: { serverKey, secretKey },
      publicKey,
      allowedKeyCount: undefined,
      serverKey,
    };
  }
  const allowedKeys =
    curveAllowFile === undefined
      ? undefined
      : parseKeyList(
          readSetting(curveAllowFile, '--curve-allow-file'),
          `--curve-allow-file ${curveAllowFile}`,
        );

  return {
    options: { secretKey, allowedKeys },
    publicKey,
    allowedKeyCount: allowedKeys?.length,
    serverKey: undefined,
  };
}

/**
 * Throws for --curve-allow-file in connect mode, where the proxy checks
 * publisher keys, and for --curve-server-key in bind mode, where the server
 * is the CURVE server itself.
 */
function rejectSettingOfOtherMode(
  settings: CurveSettings,
  mode: 'bind' | 'connect',
): void {
  if (mode === 'connect' && settings.curveAllowFile !== undefined) {
    throw new CurveConfigError(
      '--curve-allow-file applies in bind mode only; in connect mode the proxy checks publisher keys, with zsub proxy --frontend-allow-file. Remove --curve-allow-file or ZPUB_CURVE_ALLOW_FILE',
    );
  }
  if (mode === 'bind' && settings.curveServerKey !== undefined) {
    throw new CurveConfigError(
      `--curve-server-key applies in connect mode only (--publish-connect or --publish-mode connect); a server that binds is the CURVE server itself. Remove --curve-server-key or ${SERVER_KEY_VARIABLE}`,
    );
  }
}

function readSetting(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CurveConfigError(`cannot read ${setting} ${path}: ${reason}`);
  }
}
