/**
 * The check registry (src/report/checks/) held to the code, the docs and the tests: every check name emitted in
 * src/ is registered and every registered check is emitted somewhere (a static scan of the emitting forms); each
 * registered check has a test that makes it fail (test/check-coverage.ts, each file naming the check); the reference
 * page, the coverage table and schema/report.schema.json's names are current (`npm run schema`; test/unit/schema.test.ts
 * holds the whole schema file to the model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CHECK_GROUPS, CHECK_KEYS, CHECKS, CheckNameSchema, checkKeyOf, definitionOf, STAGES, stageOf, type CheckKey } from '../../src/report/checks/index.js';
import { ReportSchema } from '../../src/report/model.js';
import { checkReference, withCoverageTable } from '../../scripts/gen-check-reference.js';
import { passReport } from '../helpers/sample-report.js';
import { CHECK_COVERAGE, COVERAGE_DOC } from '../check-coverage.js';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

function tsFiles(dir: string): string[] {
  return readdirSync(resolve(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}

/**
 * The check names src/ emits, read from the forms that emit them: `name: 'x.y'` (and `` name: `x.y[…]` `` for a
 * family), `const name = 'x.y'`, `.expect('x.y'`, and a stage run or skipped through the builder (`x.error`,
 * `x.skipped`). Returns name → the files emitting it.
 */
function emittedNames(): Map<string, Set<string>> {
  const forms: [RegExp, (m: RegExpExecArray) => string][] = [
    [/\bname: (['`])([a-z]+\.[a-z0-9_]+)(\[|\1)/g, (m) => m[2]!],
    [/\bconst name = (['`])([a-z]+\.[a-z0-9_]+)\1/g, (m) => m[2]!],
    [/\.expect\((['`])([a-z]+\.[a-z0-9_]+)\1/g, (m) => m[2]!],
    [/\.stage\((['`])([a-z]+)\1/g, (m) => `${m[2]}.error`],
    [/\.skipStage\((['`])([a-z]+)\1/g, (m) => `${m[2]}.skipped`],
  ];
  const found = new Map<string, Set<string>>();
  for (const file of tsFiles('src').filter((f) => !f.startsWith(join('src', 'report', 'checks')))) {
    const text = read(file);
    for (const [re, nameOf] of forms) {
      for (const m of text.matchAll(re)) {
        const n = nameOf(m);
        found.set(n, (found.get(n) ?? new Set()).add(file));
      }
    }
  }
  return found;
}

test('every check name emitted in src/ is registered, and every registered check is emitted somewhere', () => {
  const emitted = emittedNames();
  const unregistered = [...emitted].filter(([n]) => !Object.hasOwn(CHECKS, n)).map(([n, f]) => `${n} (${[...f].join(', ')})`);
  assert.deepEqual(unregistered, [], 'emitted but not in src/report/checks/');
  assert.deepEqual(CHECK_KEYS.filter((k) => !emitted.has(k)), [], 'registered but emitted nowhere (a dead entry)');
  // The scan itself sees the forms: a family, a const name, an expect, a stage's error.
  for (const n of ['content.objects', 'fidelity.amcheck', 'production.identity', 'teardown.error', 'restore.skipped']) assert.ok(emitted.has(n), n);
});

test('the registry: one entry per name, each stage its name\'s first part, old names not reused', () => {
  assert.equal(CHECK_GROUPS.reduce((n, g) => n + Object.keys(g).length, 0), CHECK_KEYS.length, 'a name in two groups');
  for (const k of CHECK_KEYS) {
    const d = definitionOf(k);
    assert.equal(k.slice(0, k.indexOf('.')), d.stage, k);
    assert.ok(STAGES.includes(d.stage), k);
    assert.ok(d.commands.length > 0, `${k}: no command runs it`);
    if (d.renamedFrom) assert.equal(checkKeyOf(d.renamedFrom), null, `${k}: its old name is a current one`);
  }
});

test('names: families carry an item, others none; the stage comes from the registry', () => {
  assert.equal(checkKeyOf('content.objects[table public.*]'), 'content.objects');
  assert.equal(checkKeyOf('content.objects'), null, 'a family needs its item');
  assert.equal(checkKeyOf('backup.trailer[x]'), null);
  assert.equal(checkKeyOf('backup.nonesuch'), null);
  assert.equal(stageOf('content.role[app]'), 'content');
  assert.equal(stageOf('restore.roles'), 'restore');
});

test('report.json: check names are the registry\'s; a report of an earlier version is read under the new names', () => {
  assert.equal(CheckNameSchema.parse('backup.hostile_content'), 'content.hostile_content');
  assert.equal(CheckNameSchema.parse('restore.row_counts'), 'fidelity.row_counts');
  assert.equal(CheckNameSchema.parse('content.grants[app_reader]'), 'content.grants[app_reader]');
  for (const bad of ['backup.nonesuch', 'content.objects', 'trailer', 42]) assert.equal(CheckNameSchema.safeParse(bad).success, false, String(bad));
  // A whole report of an earlier version (history, status and the baseline read them) parses, under the new names.
  const old = JSON.parse(JSON.stringify(passReport()).replace('"fidelity.row_counts"', '"restore.row_counts"'));
  assert.ok(old.checks.some((c: { name: string }) => c.name === 'restore.row_counts'));
  assert.ok(ReportSchema.parse(old).checks.some((c) => c.name === 'fidelity.row_counts'));
  // The generated JSON Schema lists the names (and the families' pattern): consumers can validate and enumerate them.
  const report: { properties: { checks: { items: { properties: { name: { anyOf: [{ enum: string[] }, { pattern: string }] } } } } } } = JSON.parse(read('schema/report.schema.json'));
  const [names, families] = report.properties.checks.items.properties.name.anyOf;
  assert.deepEqual(names.enum, CHECK_KEYS.filter((k) => !definitionOf(k).item));
  for (const k of CHECK_KEYS.filter((k) => definitionOf(k).item)) assert.ok(new RegExp(families.pattern).test(`${k}[anything]`), k);
});

test('every registered check has a test that makes it fail, and the files named hold it', () => {
  const testFiles = new Set(tsFiles('test').map((f) => relative('test', f)));
  const problems: string[] = [];
  for (const k of CHECK_KEYS) {
    const c = CHECK_COVERAGE[k] as (typeof CHECK_COVERAGE)[CheckKey] | undefined;
    if (!c) {
      problems.push(`${k}: not in test/check-coverage.ts`);
      continue;
    }
    if (!c.fail.length) problems.push(`${k}: no failing test`);
    const named = definitionOf(k).item ? `${k}[` : k;
    for (const f of [...c.fail, ...c.pass]) {
      if (!testFiles.has(f)) {
        problems.push(`${k}: test/${f} does not exist`);
        continue;
      }
      const text = read(join('test', f));
      const at = [...text.matchAll(new RegExp(named.replace(/[.[\]]/g, '\\$&'), 'g'))];
      // A name, not the start of a longer one (`restore.error` is not `restore.errors`); a family's `key[` is whole.
      if (!at.some((m) => named.endsWith('[') || !/[a-z0-9_]/.test(text[m.index + named.length] ?? ''))) problems.push(`${k}: test/${f} does not name it`);
    }
  }
  assert.deepEqual(problems, []);
});

test('docs/reference/checks.md and the coverage table are up to date with the registry (run `npm run schema`)', () => {
  const text = checkReference();
  assert.equal(read('docs/reference/checks.md'), text);
  for (const k of CHECK_KEYS) assert.ok(text.includes(`\`${definitionOf(k).item ? `${k}[…]` : k}\``), k);
  const doc = read(COVERAGE_DOC);
  assert.equal(doc, withCoverageTable(doc));
});
