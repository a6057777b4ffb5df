// The `pgdrill` command as one file, dist/pgdrill.mjs (package.json "bin"), bundled by esbuild from tsc's output
// (dist/cli/main.js, which stays runnable as it is). Why: Node spends its start loading modules one file at a time
// — pgdrill's ~150 files and its dependencies' (zod alone ~100) — so `pgdrill --version` took 0.47–0.50 s against
// 0.12 s for `node -e 0`; the bundle takes 0.33–0.35 s (5 alternating runs each, on the project's machine). Every
// drill starts with it, on an otherwise idle machine. Not minified: crash stacks keep their names.
// Run by `npm run build` after tsc.
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
