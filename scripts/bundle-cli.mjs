// The `pgdrill` command as one file, dist/pgdrill.mjs (package.json "bin"), bundled by esbuild from tsc's output
// (dist/cli/main.js, which stays runnable as it is). Why: Node spends its start loading modules one file at a time
// — pgdrill's ~150 files and its dependencies' (zod alone ~100) — so `pgdrill --version` took 0.47–0.50 s against
// 0.12 s for `node -e 0`; the bundle takes 0.33–0.35 s (5 alternating runs each, on the project's machine). Every
// drill starts with it, on an otherwise idle machine. Not minified: crash stacks keep their names.
// Run by `npm run build` after tsc.
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/pgdrill.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies (pg, commander) call require() for Node's own modules: give the bundle a real one.
  banner: { js: "import { createRequire as __pgdrillCreateRequire } from 'node:module'; const require = __pgdrillCreateRequire(import.meta.url);" },
  // pg's optional native binding is never installed or used.
  external: ['pg-native'],
  logLevel: 'warning',
});

// The bundle as ASCII. V8 keeps a script's source for the process's life (functions compile lazily from it), as a
// one-byte string when every character is Latin-1 and as a two-byte one otherwise: the few dashes and arrows left in
// comments and in the reports' html`…` templates (esbuild escapes strings and identifiers, not those) doubled it,
// 2.9 MB of file held as 5.5 MB of heap in every run. Escaped as \uXXXX they read the same: comments are not read,
// and html`…` uses the templates' cooked strings (src/report/html/escape.ts), where an escape is its character.
const out = 'dist/pgdrill.mjs';
const text = readFileSync(out, 'utf8');
writeFileSync(out, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

