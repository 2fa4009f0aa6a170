// The command as one file: dist/src/cli/archon-sync.js, the CLI and everything it imports, dependencies included.
// Node 20 (no module compile cache) spends about 0.37 s loading hundreds of small modules before a run can connect,
// one file about 0.24 s (`--version`, measured), and every nightly run pays it. The library (dist/src/index.js)
// stays as tsc builds it. Run after tsc.

import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/src/cli/archon-sync.js';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // pg's optional native binding, required only when asked for.
  external: ['pg-native'],
  // The CommonJS dependencies (pg, yargs' helpers) call require() for Node's own modules.
  banner: { js: "import { createRequire as archonSyncCreateRequire } from 'node:module'; const require = archonSyncCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(OUT, 0o755);
