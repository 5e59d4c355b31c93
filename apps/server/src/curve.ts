import { readFileSync } from 'node:fs';
import {
  CurveConfigError,
  assertCurveAvailable,
  checkZ85Key,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
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
}

/** Environment variable that contains the secret key itself. */
export const SECRET_KEY_VARIABLE = 'ZPUB_CURVE_SECRET_KEY';

/** The publisher's CURVE options and the public key to tell subscribers. */
export interface LoadedCurve {
  options: ZmqCurveServerOptions;
  publicKey: string;
  allowedKeyCount: number | undefined;
}

/**
 * Resolves the CURVE options from the settings, or returns undefined when no
 * CURVE setting is given. Throws {@link CurveConfigError} naming the setting
 * for a half-configured setup, an unreadable file or an invalid key. Secret
 * keys never appear in a message.
 */
export function loadCurve(
  settings: CurveSettings,
  env: NodeJS.ProcessEnv,
): LoadedCurve | undefined {
  const secretFromEnv = env[SECRET_KEY_VARIABLE];
  const hasEnvSecret = secretFromEnv !== undefined && secretFromEnv !== '';
  const { curveSecretKeyFile, curvePublicKey, curveAllowFile } = settings;
  if (
    !hasEnvSecret &&
    curveSecretKeyFile === undefined &&
    curvePublicKey === undefined &&
    curveAllowFile === undefined
  ) {
    return undefined;
  }

  if (hasEnvSecret && curveSecretKeyFile !== undefined) {
    throw new CurveConfigError(
      `both ${SECRET_KEY_VARIABLE} and --curve-secret-key-file are set; set only one`,
    );
  }
  if (!hasEnvSecret && curveSecretKeyFile === undefined) {
    const given =
      curvePublicKey !== undefined
        ? '--curve-public-key'
        : '--curve-allow-file';
    throw new CurveConfigError(
      `${given} is set but the CURVE secret key is missing; set --curve-secret-key-file or ${SECRET_KEY_VARIABLE}`,
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
  };
}

function readSetting(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CurveConfigError(`cannot read ${setting} ${path}: ${reason}`);
  }
}
