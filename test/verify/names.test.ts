import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseFromArtifactName, parseQualifiedName } from '../../src/verify/artifact-name.js';

test('the database a dump file belongs to: extensions and date stamps removed', () => {
  const cases: [string, string][] = [
    ['/backups/pagila.sql', 'pagila'],
    ['/backups/pagila.sql.gz', 'pagila'],
    ['nightly/pagila-2026-11-27.sql.gz', 'pagila'],
    ['pagila_2026-11-27_0300.dump', 'pagila'],
    ['pagila-20261127.tar', 'pagila'],
    ['drills/pagila-20261127T233317Z/pagila-20261127T233317Z.dir/', 'pagila'],
    ['shop.backup', 'shop'],
    ['my-app-db.custom', 'my-app-db'],
    ['2026-11-27.sql', 'dump'],
  ];
  for (const [path, db] of cases) assert.equal(databaseFromArtifactName(path), db, path);
});

test('COPY targets split into schema and name, quotes honoured', () => {
  assert.deepEqual(parseQualifiedName('public.actor'), { schema: 'public', name: 'actor' });
  assert.deepEqual(parseQualifiedName('"My Schema"."Order.Items"'), { schema: 'My Schema', name: 'Order.Items' });
  assert.deepEqual(parseQualifiedName('"we""ird".t'), { schema: 'we"ird', name: 't' });
  assert.deepEqual(parseQualifiedName('Actor'), { schema: 'public', name: 'actor' });
  assert.equal(parseQualifiedName('a.b.c'), null);
  assert.equal(parseQualifiedName('"open'), null);
});
