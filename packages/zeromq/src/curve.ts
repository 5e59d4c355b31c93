import { createPrivateKey, createPublicKey } from 'node:crypto';
import { ZpubError } from '@zpub/protocol';
import { capability, curveKeyPair, version } from 'zeromq';

/** Z85 alphabet of ZeroMQ's RFC 32, in digit order. */
const Z85_ALPHABET =
  '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Length of a CURVE key in Z85 text: 32 bytes in groups of 4 as 5 digits. */
export const Z85_KEY_LENGTH = 40;

/**
 * DER prefix of a PKCS #8 X25519 private key; the 32 raw key bytes follow.
 * CURVE keys are Curve25519 keys, so Node.js's X25519 derives public keys.
 */
const X25519_PKCS8_PREFIX = Buffer.from(
  '302e020100300506032b656e04220420',
  'hex',
);

/** A CURVE key pair in Z85 text, as `zsub keygen` prints it. */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** CURVE settings that are missing, invalid or unsupported by this build. */
export class CurveConfigError extends ZpubError {
  override name = 'CurveConfigError';
}

/**
 * Throws {@link CurveConfigError} when the loaded libzmq was built without
 * CURVE, from zeromq.js's `capability.curve` flag, so that the message names
 * the cause rather than a failed socket option.
 */
export function assertCurveAvailable(): void {
  if (capability.curve !== true) {
    throw new CurveConfigError(
      `this build of zeromq (libzmq ${version}) has no CURVE support (capability.curve is false); install a zeromq package built with libsodium or CURVE, or run without CURVE keys`,
    );
  }
}

/** Returns a new random key pair. */
export function generateKeyPair(): CurveKeyPair {
  assertCurveAvailable();

  return curveKeyPair();
}

/** Returns true for 40 characters of the Z85 alphabet. */
export function isZ85Key(text: string): boolean {
  if (text.length !== Z85_KEY_LENGTH) {
    return false;
  }

  return [...text].every((character) => Z85_ALPHABET.includes(character));
}

/**
 * Checks a Z85 key and returns it. `setting` names where it came from, such
 * as a flag or a file, so that the message names what to fix. The key
 * itself is never part of the message.
 */
export function checkZ85Key(text: string, setting: string): string {
  const key = text.trim();
  if (!isZ85Key(key)) {
    throw new CurveConfigError(
      `${setting} is not a CURVE key: expected 40 characters of Z85 text, as \`zsub keygen\` prints, got ${key.length} characters`,
    );
  }

  return key;
}

/** Encodes bytes, a multiple of 4 in length, as Z85 text. */
export function encodeZ85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new RangeError(
      `Z85 encodes groups of 4 bytes, got ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = view.getUint32(offset);
    const digits: string[] = [];
    for (let index = 0; index < 5; index++) {
      digits.unshift(Z85_ALPHABET.charAt(value % 85));
      value = Math.floor(value / 85);
    }
    text += digits.join('');
  }

  return text;
}

/** Decodes Z85 text, a multiple of 5 in length, into bytes. */
export function decodeZ85(text: string): Buffer {
  if (text.length % 5 !== 0) {
    throw new RangeError(
      `Z85 text comes in groups of 5 characters, got ${text.length}`,
    );
  }
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let offset = 0; offset < text.length; offset += 5) {
    let value = 0;
    for (let index = offset; index < offset + 5; index++) {
      const digit = Z85_ALPHABET.indexOf(text.charAt(index));
      if (digit === -1) {
        throw new RangeError(`invalid Z85 character at position ${index}`);
      }
      value = value * 85 + digit;
    }
    bytes.writeUInt32BE(value, (offset / 5) * 4);
  }

  return bytes;
}

/** Returns the public key of a Z85 secret key. */
export function publicKeyOf(secretKey: string): string {
  const der = Buffer.concat([X25519_PKCS8_PREFIX, decodeZ85(secretKey)]);
  const privateKey = createPrivateKey({
    key: der,
    format: 'der',
    type: 'pkcs8',
  });
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });

  return encodeZ85(Buffer.from(x ?? '', 'base64url'));
}

/**
 * Reads the secret key from the text of a key file: the first line that is
 * neither blank nor a `#` comment, as `zsub keygen --out` writes it.
 * `source` names the file in errors.
 */
export function parseSecretKeyFile(text: string, source: string): string {
  const line = text
    .split(/\r?\n/)
    .map((candidate) => candidate.trim())
    .find((candidate) => candidate !== '' && !candidate.startsWith('#'));

  return checkZ85Key(line ?? '', source);
}

/**
 * Reads keys from text with one Z85 key per line, such as an allowlist file.
 * Blank lines and lines that begin with `#` are skipped. `source` names the
 * file in errors, with the line number.
 */
export function parseKeyList(text: string, source: string): string[] {
  const keys: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      return;
    }
    keys.push(checkZ85Key(trimmed, `line ${index + 1} of ${source}`));
  });

  return keys;
}

/**
 * CURVE settings of a CURVE client: a subscriber, or a publisher that
 * connects to a proxy.
 */
export interface ZmqCurveClientOptions {
  /**
   * The public key of the CURVE server, that is of the publisher or the
   * proxy, 40 characters of Z85.
   */
  serverKey: string;
  /**
   * This client's secret key. Without one, a new key pair is made for each
   * socket, which a CURVE server with an allowlist rejects.
   */
  secretKey?: string;
}

/** Returns the socket options of a CURVE client, or none without CURVE. */
export function curveClientOptions(curve: ZmqCurveClientOptions | undefined): {
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
} {
  if (curve === undefined) {
    return {};
  }
  assertCurveAvailable();
  const serverKey = checkZ85Key(curve.serverKey, 'the CURVE server key');
  const secretKey =
    curve.secretKey === undefined
      ? generateKeyPair().secretKey
      : checkZ85Key(curve.secretKey, 'the CURVE secret key');

  return {
    curveServerKey: serverKey,
    curvePublicKey: publicKeyOf(secretKey),
    curveSecretKey: secretKey,
  };
}
