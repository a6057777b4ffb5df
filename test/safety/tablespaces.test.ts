/**
 * A source with its own tablespace. pg_dumpall writes `CREATE TABLESPACE … LOCATION '<source's directory>'`; replayed
 * as is, the sandbox would create its files in production's tablespace directory (same host) — or, since the
 * directory is already a PG_15 tablespace, fail with "already in use as a tablespace". The drill must move every
 * location into the sandbox, restore the objects into the moved tablespace, say so in the report, and leave the
 * source's directory exactly as it was.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runDrill } from '../../src/drill/run-drill.js';
import type { RestoredCopy } from '../../src/fidelity/fidelity-stage.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase } from '../helpers/safety.js';

/** Every entry under `dir`, recursively (names only: what the sandbox could have added). */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

/** Where the restored copy keeps tablespace `fastdisk` and which tablespace holds `hot`. */
async function placement(copy: RestoredCopy): Promise<{ location: string; hot: string }> {
  const c = new pg.Client({ host: copy.env.PGHOST, port: Number(copy.env.PGPORT), user: copy.env.PGUSER, database: copy.database });
  await c.connect();
  try {
    const r = await c.query(`SELECT pg_tablespace_location(t.oid) AS location,
        (SELECT s.spcname FROM pg_class k JOIN pg_tablespace s ON s.oid = k.reltablespace WHERE k.relname = 'hot') AS hot
      FROM pg_tablespace t WHERE t.spcname = 'fastdisk'`);
    return r.rows[0] as { location: string; hot: string };
  } finally {
    await c.end();
  }
}

describe('a source with a tablespace', () => {
  test('the sandbox gets its own directory for it (plain, overlapped, and custom); the source directory is untouched', async () => {
    await using dir = await scratchDir();
    await chmod(dir.path, 0o755); // the source's OS user must reach its tablespace directory
    const source = await startSource({ parentDir: dir.path });
    try {
      await createAppDatabase(source, 'shop');
      const location = join(dir.path, 'fast disk'); // (PostgreSQL refuses quotes in a location)
      await mkdir(location);
      if (source.osUser) await chown(location, source.osUser.uid, source.osUser.gid);
      await psql(source, 'shop', { sql: `CREATE TABLESPACE fastdisk LOCATION '${location}'` });
      await psql(source, 'shop', { sql: 'CREATE TABLE hot (id int PRIMARY KEY) TABLESPACE fastdisk; INSERT INTO hot SELECT generate_series(1, 100)' });
      const before = await tree(location);

      for (const format of ['plain', 'custom'] as const) {
        let seen: { location: string; hot: string } | null = null;
        const { report } = await runDrill({
          source: urlOf(source, 'shop'), outDir: join(dir.path, `out-${format}`), format,
          afterRestore: async (copy) => { seen = await placement(copy); },
        });
        assert.equal(report.status, 'PASS', `${format}: ${JSON.stringify(report.checks.filter((c) => c.status === 'fail'))}`);
        const note = report.notes.find((n) => n.id === 'tablespaces-moved');
        assert.ok(note, `${format}: no tablespaces-moved note in ${JSON.stringify(report.notes)}`);
        assert.ok(note.text.includes(location), note.text);
        assert.ok(seen, `${format}: the afterRestore hook did not run`);
        const { location: moved, hot } = seen as { location: string; hot: string };
        assert.notEqual(moved, location);
        assert.match(moved, /\/tablespaces\/1$/, `${format}: restored tablespace at ${moved}`);
        assert.equal(hot, 'fastdisk', `${format}: the restored table is not in the restored tablespace`);
      }
      assert.deepEqual(await tree(location), before, "the source's tablespace directory changed during the drills");
    } finally {
      await source.stop();
    }
  });
});
