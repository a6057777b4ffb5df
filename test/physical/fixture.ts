/**
 * The inputs of the physical drills' tests: a PostgreSQL source (data checksums on, `archive_mode = on`,
 * `archive_command = 'cp %p ARCHIVE/%f'`), pgbench traffic, a pg_basebackup in plain and tar format, then known
 * commits around a restore point and a time, all archived. One source and one pair of backups per test file.
 */
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins, psql, silentLogger } from '../helpers/clusters.js';

/** What the fixture built: paths, and the points the PITR tests recover to. */
export interface PhysicalFixture extends AsyncDisposable {
  /** The source, running and idle. */
  readonly source: SandboxCluster;
  /** The WAL archive (`archive_command = 'cp %p DIR/%f'`). */
  readonly walDir: string;
  /** `pg_basebackup -Fp` output (with backup_manifest). */
  readonly plain: string;
  /** `pg_basebackup -Ft` output: base.tar, pg_wal.tar, backup_manifest. */
  readonly tar: string;
  /** A time after commit `marks` id 1 and before id 2 (both after the backup). */
  readonly between: string;
  /** The insert LSN after id 2 and before id 3. */
  readonly lsnAfter2: string;
  /** A restore point made after id 3, before id 4. */
  readonly restorePoint: string;
  /** The ids of `marks` in the archive at the end (1..4). */
  readonly lastMark: number;
  /** pg_relation_filepath of table `steady` in database bench: written before the backups, never after. */
  readonly steadyFile: string;
}

/**
 * Build the fixture below `parent` (a scratch directory): everything up to the last commit archived; the source keeps
 * running, idle, until disposed.
 */
export async function buildPhysicalFixture(parent: string, opts: { checksums?: boolean } = {}): Promise<PhysicalFixture> {
  const b = await bins();
  const user = await resolveSandboxUser();
  const as = { uid: user?.uid, gid: user?.gid };
  const walDir = join(parent, 'wal');
  const backups = join(parent, 'backups');
  await chmod(parent, 0o711); // the sandbox user reaches the archive and the backups below it
  for (const d of [walDir, backups]) {
    await mkdir(d, { recursive: true });
    if (user) await chown(d, user.uid, user.gid);
  }
  const initdb = b.path('initdb');
  const source = await SandboxCluster.start({
    bins: b, parentDir: parent, osUser: user, logger: silentLogger, superuser: 'postgres', label: 'phys-source', shared: [walDir, backups],
    populate: async (dataDir, jailed) => {
      const cmd = jailed(initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions', ...(opts.checksums === false ? [] : ['--data-checksums'])]);
      await runProcess({ ...cmd });
      return {};
    },
    settings: { archive_mode: 'on', archive_command: `'cp %p ${walDir}/%f'`, wal_level: 'replica', max_wal_senders: '4', fsync: 'on' },
  });
  try {
    const pg = (sql: string, db = 'postgres') => psql(source, db, { sql });
    await pg('CREATE DATABASE bench');
    await runProcess({ bin: join(b.server.bindir, 'pgbench'), args: ['-i', '-q', '-s', '1', 'bench'], env: source.env('bench'), ...as });
    await pg('CREATE TABLE marks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())', 'bench');
    await pg("CREATE TABLE steady AS SELECT g, repeat('x', 50) AS pad FROM generate_series(1, 5000) g", 'bench');
    await pg('VACUUM FREEZE steady', 'bench'); // no hint-bit writes after the backup: its pages stay as backed up
    const steadyFile = (await pg("SELECT pg_relation_filepath('steady')", 'bench')).trim();
    const base = ['-h', source.socketDir, '-p', String(source.port), '-U', 'postgres', '--checkpoint=fast', '--no-sync'];
    const plain = join(backups, 'plain');
    const tar = join(backups, 'tar');
    await runProcess({ bin: join(b.server.bindir, 'pg_basebackup'), args: [...base, '-D', plain, '-Fp'], ...as });
    await runProcess({ bin: join(b.server.bindir, 'pg_basebackup'), args: [...base, '-D', tar, '-Ft'], ...as });
    await runProcess({ bin: join(b.server.bindir, 'pgbench'), args: ['-n', '-t', '200', '-c', '2', 'bench'], env: source.env('bench'), ...as });
    await pg('INSERT INTO marks VALUES (1)', 'bench');
    await pg('SELECT pg_sleep(1.1)');
    const between = (await pg("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")).trim();
    await pg('SELECT pg_sleep(1.1)');
    await pg('INSERT INTO marks VALUES (2)', 'bench');
    const lsnAfter2 = (await pg('SELECT pg_current_wal_insert_lsn()')).trim();
    await pg('INSERT INTO marks VALUES (3)', 'bench');
    await pg("SELECT pg_create_restore_point('before_mark_4')");
    await pg('INSERT INTO marks VALUES (4)', 'bench');
    await pg('SELECT pg_switch_wal()');
    await waitArchived(source);
    // The source stays up, idle (`verify --source`): with no archive_timeout it switches no segment, so the
    // archive stays as it is and the tests can compare it before and after a drill.
    await writeFile(join(parent, 'fixture.json'), JSON.stringify({ between, lsnAfter2 }));
    return {
      source, walDir, plain, tar, between, lsnAfter2, restorePoint: 'before_mark_4', lastMark: 4, steadyFile,
      async [Symbol.asyncDispose]() {
        await source.stop();
      },
    };
  } catch (err) {
    await source.stop();
    throw err;
  }
}

/** Wait until the archiver has archived every segment switched away from. */
async function waitArchived(source: SandboxCluster): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await psql(source, 'postgres', { sql: "SELECT last_archived_wal IS NOT NULL AND last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver" });
    if (r.trim() === 't') return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the source did not archive its WAL within 60 s');
}
