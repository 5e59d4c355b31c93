import { access } from 'node:fs/promises';

/** Fails the run at once when the CLI that the tests start is not built. */
export default async function checkBuild(): Promise<void> {
  const cli = new URL('../dist/cli.js', import.meta.url);
  try {
    await access(cli);
  } catch {
    throw new Error(
      'apps/sub/dist/cli.js is missing. Run `pnpm --filter sub build` before the tests.',
    );
  }
}
