/**
 * A source with its own tablespace. pg_dumpall writes `CREATE TABLESPACE … LOCATION '<source's directory>'`; replayed
 * as is, the sandbox would create its files in production's tablespace directory (same host) — or, since the
 * directory is already a PG_15 tablespace, fail with "already in use as a tablespace". The drill must move every
 * location into the sandbox, restore the objects into the moved tablespace, say so in the report, and leave the
 * source's directory exactly as it was. Without the globals (or in `verify` without --globals) the tablespaces the
 * dump uses are made empty in the sandbox, so the objects still restore where the dump puts them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runDrill } from '../../src/drill/run-drill.js';
import type { RestoredCopy } from '../../src/fidelity/fidelity-stage.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase } from '../helpers/safety.js';
import { runCli } from '../helpers/cli.js';
import { fakeBindir } from '../helpers/fake-bindir.js';
import { ReportSchema } from '../../src/report/model.js';

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
  test('the sandbox gets its own directory for it (plain, overlapped, custom, without globals, roles only, verify); the source directory is untouched', async () => {
    await using dir = await scratchDir();
    await chmod(dir.path, 0o755); // the source's OS user must reach its tablespace directory
    const location = join(dir.path, 'fast disk'); // (PostgreSQL refuses quotes in a location)
    await mkdir(location);
    // The test's source is itself a jailed cluster (bwrap): its tablespace directory is shown to it.
    const source = await startSource({ parentDir: dir.path, shared: [location] });
    try {
      await createAppDatabase(source, 'shop');
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

      // Without captured globals (placeholders) and in `verify` without --globals: the tablespace is made empty in
      // the sandbox, under its own name, and the table restores into it.
      const { report: noGlobals } = await runDrill({
        source: urlOf(source, 'shop'), outDir: join(dir.path, 'out-no-globals'), config: { backup: { globals: false } },
        afterRestore: async (copy) => {
          const p = await placement(copy);
          assert.match(p.location, /\/tablespaces\/placeholder-1$/);
          assert.equal(p.hot, 'fastdisk');
        },
      });
      assert.equal(noGlobals.status, 'PASS', JSON.stringify(noGlobals.checks.filter((c) => c.status === 'fail')));
      assert.match(noGlobals.notes.find((n) => n.id === 'placeholder-tablespaces')?.text ?? '', /fastdisk/);
      const v = await runCli(['verify', noGlobals.backup.path!, '--out', join(dir.path, 'out-verify'), '--json']);
      const vr = ReportSchema.parse(JSON.parse(v.stdout));
      assert.equal(v.code, 0, JSON.stringify(vr.checks.filter((c) => c.status === 'fail')));
      assert.match(vr.notes.find((n) => n.id === 'placeholder-tablespaces')?.text ?? '', /fastdisk/);

      // Only the roles captured (pg_dumpall --globals-only refused, --roles-only allowed): the overlapped replay
      // starts before the dump's inventory is known, so the source's own tablespaces are made empty first.
      await using rolesOnly = await fakeBindir('case " $* " in *" --globals-only "*) echo "permission denied" >&2; exit 1;; esac\nexec "$REAL" "$@"', 'pg_dumpall');
      const ro = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'out-roles-only'), '--json'], { env: { PG_BINDIR: rolesOnly.path } });
      const rr = ReportSchema.parse(JSON.parse(ro.stdout));
      assert.equal(ro.code, 0, JSON.stringify(rr.checks.filter((c) => c.status === 'fail')));
      assert.equal(rr.backup.globals?.mode, 'roles-only');
      assert.equal(rr.restore?.overlapped, true);
      assert.match(rr.notes.find((n) => n.id === 'placeholder-tablespaces')?.text ?? '', /fastdisk/);

      assert.deepEqual(await tree(location), before, "the source's tablespace directory changed during the drills");
    } finally {
      await source.stop();
    }
  });

  test('--out inside the source\'s tablespace directory is refused (exit 3), also through a symlink; beside it, a drill PASSes', async () => {
    await using dir = await scratchDir();
    await chmod(dir.path, 0o755);
    const location = join(dir.path, 'tbs');
    await mkdir(location);
    // The source is a test cluster in pgdrill's jail: its tablespace directory must be in its view.
    const source = await startSource({ parentDir: dir.path, shared: [location] });
    try {
      await createAppDatabase(source, 'shop');
      if (source.osUser) await chown(location, source.osUser.uid, source.osUser.gid);
      await psql(source, 'shop', { sql: `CREATE TABLESPACE fastdisk LOCATION '${location}'` });
      await psql(source, 'shop', { sql: 'CREATE TABLE hot (id int PRIMARY KEY) TABLESPACE fastdisk' });
      const before = await tree(location);
      await symlink(location, join(dir.path, 'link-to-tbs'));
      for (const out of [join(location, 'drills'), location, join(dir.path, 'link-to-tbs', 'drills'), join(dir.path, 'elsewhere', '..', 'tbs', 'x')]) {
        const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', out]);
        assert.equal(r.code, 3, `${out}: ${r.stderr}`);
        assert.match(r.stderr, /out directory .* is inside the (PostgreSQL|source's) tablespace directory/, out);
      }
      assert.deepEqual(await tree(location), before, 'nothing was written into the tablespace directory');
      // A sibling whose name starts like it is not inside it.
      const beside = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'tbs-drills'), '--json']);
      assert.equal(beside.code, 0, beside.stderr);
      // verify, with or without the source, refuses it too.
      const dump = ReportSchema.parse(JSON.parse(beside.stdout)).backup.path!;
      for (const extra of [[], ['--source', urlOf(source, 'shop')]]) {
        const v = await runCli(['verify', dump, ...extra, '--out', join(dir.path, 'link-to-tbs', 'verify')]);
        assert.equal(v.code, 3, v.stderr);
        assert.match(v.stderr, /is inside the (PostgreSQL|source's) tablespace directory/);
      }
      assert.deepEqual(await tree(location), before, 'nothing was written into the tablespace directory by verify');
      await psql(source, 'shop', { sql: 'DROP TABLE hot' });
      await psql(source, 'shop', { sql: 'DROP TABLESPACE fastdisk' }); // production can still drop it: nothing foreign in it
    } finally {
      await source.stop();
    }
  });
});
