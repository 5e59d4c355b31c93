import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Debian's Python, which has python3-zmq. A `python3` on PATH may be another
// installation without it.
const python = '/usr/bin/python3';
const hasPython = existsSync(python);
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('Python reference decoder', () => {
  it.skipIf(!hasPython)(
    hasPython
      ? 'passes its unit tests and every vector'
      : 'skipped because /usr/bin/python3 is missing',
    () => {
      const result = spawnSync(
        python,
        ['-m', 'unittest', 'discover', '-s', 'tests/python', '-p', 'test_*.py'],
        {
          cwd: repositoryRoot,
          encoding: 'utf8',
          env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
          timeout: 60_000,
        },
      );
      expect(result.error).toBeUndefined();
      expect(result.status, result.stderr).toBe(0);
    },
  );
});
