import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hashCopyText } from '../../src/scan/copy-hash.js';
import { addCopyHashes, copyTargetLabel, gatherCopyTargets } from '../../src/fidelity/copy-targets.js';
import { columnNames, readBackIsWhole, readBackStatements } from '../../src/fidelity/copy-read-plan.js';
import { psqlCopyArgs } from '../../src/fidelity/copy-read-psql.js';
import { isOneWhereClause } from '../../src/fidelity/extension-config.js';
import type { CopyBlock } from '../../src/scan/types.js';

const block = (table: string, text: string, columns: string | null = 'id, v'): CopyBlock => {
  const h = hashCopyText(text);
  return { table, rows: h.rows, terminated: true, line: 1, columns, hash: h.hash };
};

describe('COPY targets gathered from blocks (src/fidelity/copy-targets.ts)', () => {
  test('c2 hashes add: two blocks hash as their lines together, in any split, carries included', () => {
    const a = '1\tone\n2\t\\N\n';
    const b = '3\tthree\n4\tfour\n5\t\n';
    assert.equal(addCopyHashes(hashCopyText(a).hash, hashCopyText(b).hash), hashCopyText(a + b).hash);
    assert.equal(addCopyHashes('c2:ffffffff00000001', 'c2:00000002ffffffff'), 'c2:0000000100000000');
  });

  test('blocks naming one root (load via partition root): rows and hashes summed, column lists kept in order', () => {
    const t = gatherCopyTargets([
      block('public.m', '1\tx\n'), block('public.other', '9\tz\n'), block('public."m"', 'y\t2\n', 'v, id'), block('public.m', '3\tw\n'),
    ]);
    assert.deepEqual([...t.keys()], ['public.m', 'public.other']);
    const m = t.get('public.m')!;
    assert.deepEqual([m.rows, m.blocks, m.columnLists, m.hash], [3, 3, ['id, v', 'v, id'], hashCopyText('1\tx\ny\t2\n3\tw\n').hash]);
  });

  test('labels as the row counts write them: quoting undone, a quote inside a name kept (dropped, it matched no table)', () => {
    assert.equal(copyTargetLabel('public.actor'), 'public.actor');
    assert.equal(copyTargetLabel('"My Schema"."Order"'), 'My Schema.Order');
    assert.equal(copyTargetLabel('public."dq""uote"'), 'public.dq"uote');
    assert.equal(copyTargetLabel('" <b>""s""</b>\\"."a.b"'), ' <b>"s"</b>\\.a.b');
    assert.deepEqual([...gatherCopyTargets([block('public."dq""uote"', '1\tx\n')]).keys()], ['public.dq"uote']);
  });

  test('a block without a hash (truncated) leaves its target without one', () => {
    const t = gatherCopyTargets([block('public.m', '1\tx\n'), { ...block('public.m', '2\ty\n'), hash: undefined }]);
    assert.equal(t.get('public.m')!.hash, undefined);
    assert.equal(t.get('public.m')!.rows, 2);
  });
});

describe('read-back statements by relkind (src/fidelity/copy-read-plan.ts)', () => {
  const t = { table: 'public."Odd ""t"""', columns: 'id, "Na,me"' };
  test('an ordinary table or one not found: COPY t (cols) TO STDOUT', () => {
    assert.deepEqual(readBackStatements(t, { relkind: 'r', leaves: [] }, 'UTF8'), ['COPY public."Odd ""t""" (id, "Na,me") TO STDOUT']);
    assert.deepEqual(readBackStatements(t, undefined, 'UTF8'), ['COPY public."Odd ""t""" (id, "Na,me") TO STDOUT']);
  });

  test('partitioned: SELECT FROM the root; foreign and others: FROM ONLY; no columns: *', () => {
    assert.deepEqual(readBackStatements(t, { relkind: 'p', leaves: [] }, 'UTF8'), ['COPY (SELECT id, "Na,me" FROM public."Odd ""t""") TO STDOUT']);
    assert.deepEqual(readBackStatements(t, { relkind: 'f', leaves: [] }, 'UTF8'), ['COPY (SELECT id, "Na,me" FROM ONLY public."Odd ""t""") TO STDOUT']);
    assert.deepEqual(readBackStatements({ table: 'public.z', columns: null }, { relkind: 'f', leaves: [] }, 'UTF8'), ['COPY (SELECT * FROM ONLY public.z) TO STDOUT']);
  });

  test("an extension configuration table: FROM ONLY t <its filter> (pg_dump's own read), ended by a newline; no filter: the whole table", () => {
    assert.deepEqual(readBackStatements({ ...t, filter: 'WHERE NOT builtin' }, { relkind: 'r', leaves: [] }, 'UTF8'), ['COPY (SELECT id, "Na,me" FROM ONLY public."Odd ""t""" WHERE NOT builtin\n) TO STDOUT']);
    assert.deepEqual(readBackStatements({ ...t, filter: '' }, { relkind: 'r', leaves: [] }, 'UTF8'), ['COPY public."Odd ""t""" (id, "Na,me") TO STDOUT']);
  });

  test('a configuration table filter is used only when it is one WHERE clause', () => {
    for (const ok of ['', 'WHERE NOT builtin', 'WHERE NOT (srid BETWEEN 2000 AND 6999)', "where a = ';'", "WHERE $$;$$ = ''", 'WHERE true -- trailing comment']) assert.ok(isOneWhereClause(ok), ok);
    for (const bad of ['WHERE true; DROP TABLE x', 'WHERE true) TO STDOUT; SELECT (1', 'WHERE true \\! id', "WHERE 'unclosed", 'WHERE x /* open', 'NOT builtin', 'WHERE (a', 'WHERE a)']) assert.ok(!isOneWhereClause(bad), bad);
  });

  test('a root whose blocks used several column lists: one statement per list, over the leaves of that order', () => {
    const leaves = [{ oid: '101', columns: ['id', 'v'] }, { oid: '102', columns: ['v', 'id'] }, { oid: '103', columns: ['id', 'v'] }];
    assert.deepEqual(readBackStatements({ table: 'public.m', columns: 'id, v', columnLists: ['id, v', 'v, id', 'id, x'] }, { relkind: 'p', leaves }, 'UTF8'), [
      'COPY (SELECT id, v FROM public.m WHERE tableoid IN (101, 103)) TO STDOUT',
      'COPY (SELECT v, id FROM public.m WHERE tableoid IN (102)) TO STDOUT',
      'COPY (SELECT id, x FROM public.m WHERE tableoid IN (NULL)) TO STDOUT',
    ]);
  });

  test('whole: the lines read back are the exact row count only when the statements read every row of the relation', () => {
    const leaves = [{ oid: '101', columns: ['id', 'v'] }, { oid: '102', columns: ['v', 'id'] }];
    const m = { table: 'public.m', columns: 'id, v', columnLists: ['id, v', 'v, id'] };
    assert.equal(readBackIsWhole(t, { relkind: 'r', leaves: [] }), true, 'COPY t TO reads the rows of SELECT FROM ONLY t');
    assert.equal(readBackIsWhole(t, { relkind: 'p', leaves: [] }), true, 'one column list: FROM the root, every partition');
    assert.equal(readBackIsWhole(m, { relkind: 'p', leaves }), true, 'every leaf of one of the lists');
    assert.equal(readBackIsWhole(m, { relkind: 'p', leaves: [...leaves, { oid: '103', columns: ['v', 'id', 'x'] }] }), false, 'a leaf of another order is not read');
    assert.equal(readBackIsWhole(t, { relkind: 'f', leaves: [] }), false, 'a foreign table is counted with count(*)');
    assert.equal(readBackIsWhole(t, { relkind: null, leaves: [] }), false, 'not found');
    assert.equal(readBackIsWhole(t, undefined), false);
    assert.equal(readBackIsWhole({ ...t, filter: 'WHERE id > 10' }, { relkind: 'r', leaves: [] }), false, "a configuration table's filtered read: count(*) through the filter");
  });

  test('non-ASCII identifiers in a dump that is not UTF-8: U& escapes in every form', () => {
    assert.deepEqual(readBackStatements({ table: 'public."日本"', columns: '"é"' }, { relkind: 'p', leaves: [] }, 'EUC_JP'), ['COPY (SELECT U&"\\00e9" FROM public.U&"\\65e5\\672c") TO STDOUT']);
  });

  test('column lists as pg_dump writes them, unquoted', () => {
    assert.deepEqual(columnNames('id, "Na,me", "q""x", at'), ['id', 'Na,me', 'q"x', 'at']);
    assert.deepEqual(columnNames(''), []);
  });

  test('psql: no psqlrc, quiet (no command tags among the rows), stops at the first error, setup first', () => {
    assert.deepEqual(psqlCopyArgs(["SET DateStyle = 'ISO'"], 'COPY t TO STDOUT'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', "SET DateStyle = 'ISO'", '-c', 'COPY t TO STDOUT']);
  });
});
