import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { versionFromNum } from '../../src/exec/binaries.js';
import type { SourceFacts } from '../../src/init/source-facts.js';
import { EXPECT_BLOCK_START, renderStarterConfig, urlWithoutPassword } from '../../src/init/starter-config.js';

/** Facts with names that try to break out of a comment or a scalar. */
const ODD = 'we"ird: db #1\nsource:\n  system_identifier: "1"';
const facts = (over: Partial<SourceFacts> = {}): SourceFacts => ({
  identity: {
    systemIdentifier: '7716124871552244473', database: ODD, serverVersion: versionFromNum(150004), serverVersionText: '15.4 (Debian)',
    user: 'drill "ro"', isSuperuser: false, inRecovery: false,
  },
  redacted: 'postgresql://drill_ro:***@db/app',
  encoding: 'UTF8', locale: { collate: 'C.UTF-8', ctype: 'C.UTF-8', provider: 'libc', locale: null, icuRules: null },
  counts: { table: 3, view: 1 },
  schemas: [{ schema: 'sales # x: "y"', tables: 2, views: 1, materializedViews: 0 }, { schema: 'new\n  evil: 1', tables: 1, views: 0, materializedViews: 0 }, { schema: 'a*b', tables: 1, views: 0, materializedViews: 0 }, { schema: 'public', tables: 1, views: 0, materializedViews: 0 }],
  roles: [{ name: 'own\ner: x', canLogin: false, superuser: false, owns: 4 }, { name: 'postgres', canLogin: true, superuser: true, owns: 0 }],
  ...over,
});

/** The config with its expectation block uncommented. */
function enableExpect(text: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(EXPECT_BLOCK_START);
  for (let i = start; i < lines.length && lines[i]!.startsWith('#'); i++) lines[i] = lines[i]!.replace(/^# ?/, '');
  return lines.join('\n');
}

test('the starter config validates, pins the identity exactly, and odd names cannot change its YAML', () => {
  const text = renderStarterConfig(facts(), { url: 'postgresql://drill_ro:s3cret@db:5432/app?sslmode=require&password=s3cret', now: new Date(0) });
  assert.doesNotMatch(text, /s3cret/);
  const cfg = validateConfig(parse(text), 'starter');
  assert.equal(cfg.source.system_identifier, '7716124871552244473');
  assert.equal(cfg.source.database, ODD);
  assert.equal(cfg.source.url, 'postgresql://drill_ro@db:5432/app?sslmode=require');
  assert.equal(cfg.expect, undefined, 'expectations stay commented: the source catalog is the default, stronger check');
  assert.deepEqual(Object.keys(parse(text) as object), ['source', 'backup']);
  // Enabled, the expectations validate too, with the odd names intact.
  const strict = validateConfig(parse(enableExpect(text)), 'starter');
  assert.deepEqual(strict.expect?.objects.map((o) => [o.type, o.schema, o.count]), [
    ['table', 'sales # x: "y"', 2], ['view', 'sales # x: "y"', 1], ['table', 'public', 1],
  ]);
  assert.deepEqual(strict.expect?.roles, ['own\ner: x']);
  assert.match(text, /schema "a\*b": not listed/);
  assert.match(text, /schema "new\\n  evil: 1": not listed/);
});

test('the starter config without a URL (PG* environment) and with a superuser connection says so', () => {
  const text = renderStarterConfig(facts({ identity: { ...facts().identity, isSuperuser: true, inRecovery: true } }));
  const cfg = validateConfig(parse(text), 'starter');
  assert.equal(cfg.source.url, undefined);
  assert.match(text, /from the PG\* environment/);
  assert.match(text, /a superuser: a drill needs only a role that can read/);
  assert.match(text, /a standby \(in recovery\)/);
});

test('urlWithoutPassword removes the password and nothing else', () => {
  assert.equal(urlWithoutPassword('postgresql://u:p@h:5432/d'), 'postgresql://u@h:5432/d');
  assert.equal(urlWithoutPassword('postgres://u@h/d?password=x&sslmode=require'), 'postgres://u@h/d?sslmode=require');
  assert.equal(urlWithoutPassword('postgresql://u@h/d?sslmode=require&password=x'), 'postgresql://u@h/d?sslmode=require');
  assert.equal(urlWithoutPassword('postgresql://h/d?password=x'), 'postgresql://h/d');
  assert.equal(urlWithoutPassword('postgresql://u@h/d'), 'postgresql://u@h/d');
});
