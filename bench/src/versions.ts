import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { version as libzmqVersion } from 'zeromq';
import { SYSTEM_PYTHON } from './flask.js';
import { cpuDescription } from './procfs.js';

const require = createRequire(import.meta.url);

/** Returns the version of an npm package as this package resolves it. */
function packageVersion(name: string): string {
  let directory = dirname(require.resolve(name));
  while (directory !== dirname(directory)) {
    try {
      const manifest = JSON.parse(
        readFileSync(join(directory, 'package.json'), 'utf8'),
      ) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === name) {
        return manifest.version ?? 'unknown';
      }
    } catch {
      // no package.json at this level
    }
    directory = dirname(directory);
  }

  return 'unknown';
}

/** Returns the first line a command prints, or "not found". */
function commandOutput(command: string, args: readonly string[]): string {
  try {
    const output = execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return output.trim().split('\n')[0] ?? '';
  } catch (error) {
    // wrk -v and mosquitto -h print their version but exit non-zero.
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    const text = `${stdout ?? ''}${stderr ?? ''}`.trim();
    return text === '' ? 'not found' : (text.split('\n')[0] ?? '');
  }
}

/** The software and machine a run used. */
export interface Environment {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  zeromq: string;
  libzmq: string;
  fastify: string;
  wrk: string;
  clients: Record<string, string>;
  brokers: Record<string, string>;
  python: string;
}

export function describeEnvironment(): Environment {
  const { model, cores } = cpuDescription();
  const python = commandOutput(SYSTEM_PYTHON, [
    '-c',
    'import flask, zmq, sys; print(f"Python {sys.version.split()[0]}, Flask {flask.__version__}, pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}")',
  ]);

  return {
    date: new Date().toISOString(),
    cpu: model,
    cores,
    node: process.version,
    zeromq: packageVersion('zeromq'),
    libzmq: libzmqVersion,
    fastify: packageVersion('fastify'),
    wrk: commandOutput('wrk', ['-v']).replace(/ \[.*$/, ''),
    clients: {
      redis: packageVersion('redis'),
      '@nats-io/transport-node': packageVersion('@nats-io/transport-node'),
      '@nats-io/jetstream': packageVersion('@nats-io/jetstream'),
      mqtt: packageVersion('mqtt'),
    },
    brokers: {
      redis: commandOutput('redis-server', ['--version']).replace(
        / sha=.*$/,
        '',
      ),
      nats: commandOutput('nats-server', ['--version']),
      mosquitto: commandOutput('mosquitto', ['-h']),
    },
    python,
  };
}
