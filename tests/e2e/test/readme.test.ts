import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { Child, SERVER_BIN } from './processes.js';

const README = new URL('../../../README.md', import.meta.url);
const PLUGIN_SOURCE = fileURLToPath(
  new URL('../../../packages/fastify/src/plugin.ts', import.meta.url),
);

/** Returns the text of a README section, up to the next heading. */
function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) {
    throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  }
  const end = readme.indexOf('\n#', start + heading.length + 2);

  return readme.slice(start, end === -1 ? undefined : end);
}

/** Returns the first capture group of `pattern` in `text`, or throws. */
function capture(text: string, pattern: RegExp): string {
  const match = pattern.exec(text);
  if (match?.[1] === undefined) {
    throw new Error(`${pattern} does not match:\n${text}`);
  }

  return match[1];
}

/** Returns the server's --help, with each run of whitespace as one space. */
async function serverHelp(): Promise<string> {
  const child = new Child(process.execPath, [SERVER_BIN, '--help']);
  const { code } = await child.exited;
  expect(code).toBe(0);

  return child.stdout.join(' ').replace(/\s+/g, ' ');
}

/**
 * Returns each property of ZpubPluginOptions with its JSDoc @default, read
 * from the plugin's source by the TypeScript compiler, so that inherited
 * publisher options count too.
 */
function pluginOptions(): Map<string, string | undefined> {
  const program = ts.createProgram([PLUGIN_SOURCE], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(PLUGIN_SOURCE);
  if (source === undefined) {
    throw new Error(`cannot read ${PLUGIN_SOURCE}`);
  }
  const declaration = source.statements.find(
    (statement): statement is ts.InterfaceDeclaration =>
      ts.isInterfaceDeclaration(statement) &&
      statement.name.text === 'ZpubPluginOptions',
  );
  if (declaration === undefined) {
    throw new Error('plugin.ts declares no ZpubPluginOptions');
  }

  const options = new Map<string, string | undefined>();
  const type = checker.getTypeAtLocation(declaration.name);
  for (const property of checker.getPropertiesOfType(type)) {
    const tag = property
      .getJsDocTags(checker)
      .find((candidate) => candidate.name === 'default');
    options.set(
      property.name,
      tag === undefined ? undefined : ts.displayPartsToString(tag.text).trim(),
    );
  }

  return options;
}

describe('README plugin section', () => {
  it('example avoids the server defaults', async () => {
    const readme = await readFile(README, 'utf8');
    const plugin = section(
      readme,
      '## Using the plugin in your own Fastify app',
    );
    const example = capture(plugin, /```ts\n([\s\S]*?)```/);
    const exampleEndpoint = capture(example, /endpoint: '([^']+)'/);
    const exampleHttpPort = capture(example, /listen\(\{ port: ([0-9]+) \}\)/);
    const help = await serverHelp();
    const serverEndpoint = capture(
      help,
      /--publish <endpoint> .*?\(default: "([^"]+)"/,
    );
    const serverHttpPort = capture(
      help,
      /--port <number> .*?\(default: ([0-9]+)/,
    );
    const portOf = (endpoint: string): string =>
      capture(endpoint, /:([0-9]+)$/);

    expect(portOf(exampleEndpoint)).not.toBe(portOf(serverEndpoint));
    expect(exampleHttpPort).not.toBe(serverHttpPort);
    expect(plugin).toContain(`npx zsub --endpoint ${exampleEndpoint}`);
  });

  it('table lists every plugin option', async () => {
    const readme = await readFile(README, 'utf8');
    const plugin = section(
      readme,
      '## Using the plugin in your own Fastify app',
    );
    const rows = new Map<string, string>();
    for (const match of plugin.matchAll(/^\| `([A-Za-z]+)` +\| ([^|]*)\|/gm)) {
      rows.set(match[1] as string, (match[2] as string).trim());
    }
    const options = pluginOptions();

    expect([...rows.keys()].sort()).toEqual([...options.keys()].sort());
    for (const [name, documented] of options) {
      // A default given as one literal must be the table's default, quotes
      // aside. Defaults described in words are not checked.
      if (
        documented !== undefined &&
        /^('[^' ]*'|[0-9]+|true|false)$/.test(documented)
      ) {
        expect(rows.get(name), name).toBe(
          `\`${documented.replace(/'/g, '')}\``,
        );
      }
    }
  });
});
