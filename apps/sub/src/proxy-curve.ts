import {
  CurveConfigError,
  checkZ85Key,
  parseKeyList,
  parseSecretKeyFile,
  publicKeyOf,
  type RejectedPeer,
} from '@zpub/client';
import { createRateLimitedLog } from '@zpub/protocol';
import { Option, type Command } from 'commander';
import { readKeyFile } from './curve.js';
import { PREFIX, printable } from './notices.js';
import type { ProxyCurveOptions, ProxySide } from './proxy.js';

/** Environment variable that contains the proxy's secret key itself. */
export const PROXY_SECRET_KEY_VARIABLE = 'ZSUB_PROXY_CURVE_SECRET_KEY';

/** The CURVE flags of `zsub proxy`. */
export interface ProxyCurveFlags {
  curveSecretKeyFile?: string;
  frontendAllowFile?: string;
  backendAllowFile?: string;
}

/** The proxy's CURVE options and its public key, which clients need. */
export interface LoadedProxyCurve {
  options: ProxyCurveOptions;
  publicKey: string;
}

/** Adds the CURVE options to the program of `zsub proxy`. */
export function addProxyCurveOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--curve-secret-key-file <path>',
        `file with the proxy's CURVE secret key, as \`zsub keygen --out\` writes it (or the key itself in ${PROXY_SECRET_KEY_VARIABLE}); turns on CURVE on both endpoints`,
      ).env('ZSUB_PROXY_CURVE_SECRET_KEY_FILE'),
    )
    .addOption(
      new Option(
        '--frontend-allow-file <path>',
        "file with the public keys of the publishers that may connect, one per line; without it, any publisher that has the proxy's public key may",
      ).env('ZSUB_PROXY_FRONTEND_ALLOW_FILE'),
    )
    .addOption(
      new Option(
        '--backend-allow-file <path>',
        "file with the public keys of the subscribers that may connect, one per line; without it, any subscriber that has the proxy's public key may",
      ).env('ZSUB_PROXY_BACKEND_ALLOW_FILE'),
    );
}

/**
 * Resolves the proxy's CURVE settings, or returns undefined when none is
 * given. Throws {@link CurveConfigError} naming the setting for an allowlist
 * without a secret key, two sources of the secret key, an unreadable file or
 * an invalid key. Secret keys never appear in a message.
 */
export function resolveProxyCurve(
  flags: ProxyCurveFlags,
  env: NodeJS.ProcessEnv,
): LoadedProxyCurve | undefined {
  const { curveSecretKeyFile, frontendAllowFile, backendAllowFile } = flags;
  const secretFromEnv = env[PROXY_SECRET_KEY_VARIABLE];
  const hasEnvSecret = secretFromEnv !== undefined && secretFromEnv !== '';
  if (hasEnvSecret && curveSecretKeyFile !== undefined) {
    throw new CurveConfigError(
      `both --curve-secret-key-file and ${PROXY_SECRET_KEY_VARIABLE} are set; set only one`,
    );
  }
  if (!hasEnvSecret && curveSecretKeyFile === undefined) {
    const allowFileFlag =
      frontendAllowFile !== undefined
        ? '--frontend-allow-file'
        : backendAllowFile !== undefined
          ? '--backend-allow-file'
          : undefined;
    if (allowFileFlag !== undefined) {
      throw new CurveConfigError(
        `${allowFileFlag} is set but the proxy's CURVE secret key is missing; set --curve-secret-key-file or ${PROXY_SECRET_KEY_VARIABLE}`,
      );
    }
    return undefined;
  }

  const secretKey = hasEnvSecret
    ? checkZ85Key(secretFromEnv, PROXY_SECRET_KEY_VARIABLE)
    : parseSecretKeyFile(
        readKeyFile(curveSecretKeyFile as string, '--curve-secret-key-file'),
        `--curve-secret-key-file ${curveSecretKeyFile as string}`,
      );

  return {
    options: {
      secretKey,
      frontendAllowedKeys: readAllowlist(
        frontendAllowFile,
        '--frontend-allow-file',
      ),
      backendAllowedKeys: readAllowlist(
        backendAllowFile,
        '--backend-allow-file',
      ),
    },
    publicKey: publicKeyOf(secretKey),
  };
}

function readAllowlist(
  path: string | undefined,
  setting: string,
): string[] | undefined {
  if (path === undefined) {
    return undefined;
  }

  return parseKeyList(readKeyFile(path, setting), `${setting} ${path}`);
}

/** Returns the line that names the proxy's public key and each allowlist. */
export function formatCurveLine(curve: LoadedProxyCurve): string {
  const { frontendAllowedKeys, backendAllowedKeys } = curve.options;
  const frontend = describeAllowlist(frontendAllowedKeys, 'publisher');
  const backend = describeAllowlist(backendAllowedKeys, 'subscriber');

  return `${PREFIX}proxy uses CURVE with public key ${curve.publicKey} (frontend: ${frontend}; backend: ${backend})`;
}

function describeAllowlist(
  keys: readonly string[] | undefined,
  client: string,
): string {
  if (keys === undefined) {
    return `no allowlist, any ${client} that has the public key`;
  }

  return `allowlist of ${keys.length} ${client} ${keys.length === 1 ? 'key' : 'keys'}`;
}

/**
 * Returns the handler of rejected clients, which writes a line per peer
 * through `write`. The ZAP handler reports each key and address once. Each
 * side writes at most one line per 10 seconds, and its next line counts the
 * rejections left out.
 */
export function createRejectionLog(
  write: (line: string) => void,
): (peer: RejectedPeer, side: ProxySide) => void {
  const logs = {
    frontend: createRateLimitedLog((peer: RejectedPeer, repeats: number) => {
      write(formatRejection(peer, 'frontend', repeats));
    }),
    backend: createRateLimitedLog((peer: RejectedPeer, repeats: number) => {
      write(formatRejection(peer, 'backend', repeats));
    }),
  };

  return (peer, side) => logs[side](peer);
}

function formatRejection(
  peer: RejectedPeer,
  side: ProxySide,
  repeats: number,
): string {
  const client = side === 'frontend' ? 'publisher' : 'subscriber';
  const key = `${peer.mechanism || 'NULL'} key ${peer.publicKey || '(none)'}`;
  const left =
    repeats === 0
      ? ''
      : `; ${repeats} more rejections on the ${side} since the previous line were not logged`;

  return `${PREFIX}proxy rejected a ${client} from ${printable(peer.address)} on the ${side}: its ${printable(key)} is not in --${side}-allow-file${left}\n`;
}
