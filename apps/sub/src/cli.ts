import { parseCommandLine } from './options.js';
import { RUNTIME_ERROR_EXIT_CODE, flush, run } from './run.js';

// A reader that goes away, as `head` does, closes the pipe: that ends zsub
// with success and no message. Node ignores SIGPIPE, so this shows up as an
// EPIPE error on the next write.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') {
    process.exit(0);
  }
  process.stderr.write(`zsub: cannot write to stdout: ${error.message}\n`);
  process.exit(RUNTIME_ERROR_EXIT_CODE);
});
// A closed stderr leaves nowhere to report anything, so its errors are
// dropped rather than thrown.
process.stderr.on('error', () => undefined);

async function main(): Promise<number> {
  const commandLine = await parseCommandLine(process.argv.slice(2), {
    env: process.env,
    stdoutIsTerminal: process.stdout.isTTY === true,
  });
  if (commandLine.kind === 'exit') {
    await Promise.all([flush(process.stdout), flush(process.stderr)]);
    return commandLine.exitCode;
  }

  return run(commandLine.config);
}

try {
  process.exit(await main());
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`zsub: unexpected error: ${message}\n`);
  await flush(process.stderr);
  process.exit(RUNTIME_ERROR_EXIT_CODE);
}
