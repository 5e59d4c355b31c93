import { writeFile } from 'node:fs/promises';
import { CurveConfigError, generateKeyPair } from '@zpub/client';
import { Command, CommanderError, Option } from 'commander';
import { PREFIX, printable } from './notices.js';

/** Mode of a secret key file: read and write for its owner only. */
export const SECRET_KEY_FILE_MODE = 0o600;

const HELP_AFTER = `
With --out, the secret key goes to that file, created with mode 0600, and
stdout gets only the public key. Without --out, both keys go to stdout, as
"public-key: KEY" and "secret-key: KEY", with a warning on stderr.

Give the public key to the publisher's allowlist (--curve-allow-file) and
the file to zsub with --curve-key-file.`;

function createKeygenProgram(): Command {
  return new Command('zsub keygen')
    .description('Print a new CURVE key pair for zsub or the publisher.')
    .helpOption('-h, --help', 'print this help and exit')
    .addOption(
      new Option(
        '--out <path>',
        'write the secret key to this new file (mode 0600) instead of stdout',
      ),
    )
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError("Run 'zsub keygen --help' for usage.")
    .configureOutput({
      outputError: (message, write) =>
        write(`${PREFIX}${message.trim().replace(/^error: /, '')}\n`),
    })
    .exitOverride();
}

/** Builds the text of a secret key file, which readers parse line by line. */
export function formatKeyFile(publicKey: string, secretKey: string): string {
  return [
    '# zpub CURVE secret key. Keep this file private.',
    `# public-key: ${publicKey}`,
    secretKey,
    '',
  ].join('\n');
}

/** Runs `zsub keygen` with the arguments after it and returns the exit code. */
export async function runKeygen(args: readonly string[]): Promise<number> {
  const program = createKeygenProgram();
  try {
    program.parse(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  const { out } = program.opts<{ out?: string }>();

  let keys;
  try {
    keys = generateKeyPair();
  } catch (error) {
    if (error instanceof CurveConfigError) {
      process.stderr.write(`${PREFIX}${error.message}\n`);
      return 1;
    }
    throw error;
  }

  if (out === undefined) {
    process.stderr.write(
      `${PREFIX}warning: the secret key is printed on stdout; pass --out FILE to write it to a file only you can read\n`,
    );
    process.stdout.write(
      `public-key: ${keys.publicKey}\nsecret-key: ${keys.secretKey}\n`,
    );
    return 0;
  }

  try {
    // "wx" fails when the file exists, so no key is overwritten, and the
    // mode applies from the moment the file exists.
    await writeFile(out, formatKeyFile(keys.publicKey, keys.secretKey), {
      flag: 'wx',
      mode: SECRET_KEY_FILE_MODE,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint = code === 'EEXIST' ? '; remove it or choose another path' : '';
    process.stderr.write(
      `${PREFIX}cannot write --out ${printable(out)}: ${code}${hint}\n`,
    );
    return 1;
  }
  process.stdout.write(`${keys.publicKey}\n`);

  return 0;
}
