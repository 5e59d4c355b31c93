import { access } from 'node:fs/promises';

/**
 * Fails the run at once when the CLI that the tests start, or the example
 * server that some of them publish from, is not built.
 */
export default async function checkBuild(): Promise<void> {
  const builds: [relative: string, shown: string, command: string][] = [
    ['../dist/cli.js', 'apps/sub/dist/cli.js', 'pnpm --filter sub build'],
    [
      '../../server/dist/main.js',
      'apps/server/dist/main.js',
      'pnpm --filter server build',
    ],
  ];
  for (const [relative, shown, command] of builds) {
    try {
      await access(new URL(relative, import.meta.url));
    } catch {
      throw new Error(
        `${shown} is missing. Run \`${command}\` before the tests.`,
      );
    }
  }
}
