// Lint: rules that catch bugs, not a style guide (formatting is left alone for now: see docs/development.md).
// typescript-eslint rather than Biome: no-floating-promises and no-misused-promises need type information.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // test/install/consumer: a consumer's project, type-checked by its own test against the packed package.
  { ignores: ['dist/', 'node_modules/', '**/*.js', '**/*.mjs', 'test/install/consumer/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its rejection (and teardown that was meant to finish first).
      // Fire-and-forget is written `void p` with a reason beside it. node:test's top-level test()/describe()
      // are awaited by the runner; subtests (t.test) are not exempt.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
      }],
      // An async function where a void callback is expected (an event handler, forEach): its rejection is lost.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // "[object Object]" in a message or a report.
      '@typescript-eslint/no-base-to-string': 'error',
      // A `!` or a cast the types no longer need hides the day they would (noUncheckedIndexedAccess is on).
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // `using` inside a loop: Node 20 has no native `using`, and esbuild's lowering (tsx, the CLI bundle) keeps a
      // block's disposal error in function-wide variables that are never reset — once one iteration's block throws
      // and the loop catches it, every later iteration rethrows that same error at its block's end (a physical
      // drill waited 6 hours for a server that was up). Put the iteration's resources in a function of their own.
      'no-restricted-syntax': ['error', ...['', 'BlockStatement >', 'TryStatement > BlockStatement >', 'IfStatement > BlockStatement >'].map((between) => ({
        // The loop's own blocks (its body, a bare block, a try or an if in it); a callback defined in the loop is a function of its own.
        selector: `:matches(ForStatement, ForOfStatement, ForInStatement, WhileStatement, DoWhileStatement) > BlockStatement > ${between} VariableDeclaration[kind=/using/]`,
        message: '`using` inside a loop: esbuild\'s lowering rethrows an earlier iteration\'s error; move the iteration into a function (see eslint.config.js).',
      }))],
      // PostgreSQL puts two spaces after a message's severity ("ERROR:  "); regexes match them as printed.
      'no-regex-spaces': 'off',
    },
  },
);
