import { defineConfig } from 'tsup';

export default defineConfig({
  entry: [
    'src/cli.ts',
    'src/server.ts',
    'src/subscriber.ts',
    'src/load.ts',
    'src/blaster.ts',
    'src/micro.ts',
  ],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
});
