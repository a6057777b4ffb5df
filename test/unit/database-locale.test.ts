import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '../../src/errors.js';
import { osLocalesFingerprint } from '../../src/sandbox/initdb-template.js';
import { localeClauses, localeError, parseCreateDatabaseLocale, SANDBOX_DEFAULT_LOCALE } from '../../src/restore/database-locale.js';

describe("the restored database's locale", () => {
  test("pg_dump's CREATE DATABASE lines, as each version writes them", () => {
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE co WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';"),
      { encoding: 'UTF8', locale: SANDBOX_DEFAULT_LOCALE });
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE \"a LOCALE = 'x'\" WITH TEMPLATE = template0 ENCODING = 'LATIN1' LC_COLLATE = 'en_US.ISO-8859-1' LC_CTYPE = 'C';"),
      { encoding: 'LATIN1', locale: { collate: 'en_US.ISO-8859-1', ctype: 'C', provider: 'libc', locale: null, icuRules: null } });
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE icu WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'C' ICU_LOCALE = 'de-DE';"),
      { encoding: 'UTF8', locale: { collate: 'C', ctype: 'C', provider: 'icu', locale: 'de-DE', icuRules: null } });
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE r WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'C' ICU_LOCALE = 'und' ICU_RULES = '&a < g';"),
      { encoding: 'UTF8', locale: { collate: 'C', ctype: 'C', provider: 'icu', locale: 'und', icuRules: '&a < g' } });
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE b WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = builtin LOCALE = 'C.UTF-8' BUILTIN_LOCALE = 'C.UTF-8';"),
      { encoding: 'UTF8', locale: { collate: 'C.UTF-8', ctype: 'C.UTF-8', provider: 'builtin', locale: 'C.UTF-8', icuRules: null } });
    // PostgreSQL 14's pg_dump: no provider.
    assert.deepEqual(parseCreateDatabaseLocale("CREATE DATABASE old WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'en_US.UTF-8';")?.locale,
      { collate: 'en_US.UTF-8', ctype: 'en_US.UTF-8', provider: 'libc', locale: null, icuRules: null });
    assert.equal(parseCreateDatabaseLocale('CREATE TABLE t (a int);'), null);
  });

  test('CREATE DATABASE clauses by server version; an impossible one is an environment defect', () => {
    const icu = { collate: 'C', ctype: 'C', provider: 'icu' as const, locale: "de-'DE", icuRules: null };
    assert.equal(localeClauses(SANDBOX_DEFAULT_LOCALE, 140000), " LC_COLLATE 'C' LC_CTYPE 'C'");
    assert.equal(localeClauses(SANDBOX_DEFAULT_LOCALE, 150000), " LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'");
    assert.equal(localeClauses(icu, 150000), " LOCALE_PROVIDER icu ICU_LOCALE 'de-''DE' LC_COLLATE 'C' LC_CTYPE 'C'");
    assert.throws(() => localeClauses(icu, 140000), EnvironmentError);
    assert.throws(() => localeClauses({ ...icu, icuRules: '&a < g' }, 150000), /ICU rules/);
    assert.throws(() => localeClauses({ ...icu, provider: 'builtin' }, 160000), /builtin locale provider/);
  });

  test('only locale errors become environment defects', () => {
    const l = { collate: 'xx_YY.UTF-8', ctype: 'xx_YY.UTF-8', provider: 'libc' as const, locale: null, icuRules: null };
    const e = localeError(Object.assign(new Error('invalid LC_COLLATE locale name: "xx_YY.UTF-8"'), { code: '42809' }), l, 'UTF8');
    assert.ok(e instanceof EnvironmentError);
    assert.match((e as Error).message, /"xx_YY\.UTF-8" in \/etc\/locale\.gen .*locale-gen/);
    const other = new Error('database "x" already exists');
    assert.equal(localeError(other, l, 'UTF8'), other);
  });

  test('the initdb template is keyed by the machine\'s locales: a locale generated later makes a new template', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgdrill-locales-'));
    try {
      await writeFile(join(dir, 'locale-archive'), 'C.utf8');
      const before = osLocalesFingerprint(dir);
      assert.equal(osLocalesFingerprint(dir), before, 'stable while nothing changes');
      await writeFile(join(dir, 'locale-archive'), 'C.utf8 en_US.utf8');
      assert.notEqual(osLocalesFingerprint(dir), before);
      await mkdir(join(dir, 'de_DE.utf8'));
      assert.match(osLocalesFingerprint(dir), /de_DE\.utf8/);
      assert.equal(osLocalesFingerprint(join(dir, 'absent')), 'none');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
