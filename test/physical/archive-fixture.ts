/**
 * Inputs of physical drills, built as a DBA builds them: a source archiving its WAL (`archive_command`), a
 * pg_basebackup of it, and a restored copy of that backup promoted to a new timeline that archives into the same
 * directory. Everything runs as the sandbox's OS user, in the test's scratch directory.
 */
import { createHash } from 'node:crypto';
import { access, appendFile, chmod, chown, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess } from '../../src/exec/run-process.js';
import { resolveSandboxUser, type OsUser } from '../../src/exec/os-user.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';

/** A directory owned by `user` (the sandbox's OS user, or the caller), mode 0700. */
export async function ownedDir(path: string, user: OsUser | null): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (user) await chown(path, user.uid, user.gid);
  return path;
}

/**
 * A scratch directory (reachable by the sandbox user), an archive in it owned by that user, and a source archiving
 * into it with `cp`; `shared` are further directories (under the scratch) the source's OS user needs, created owned.
 */
export async function startArchivingSource(prefix: string, shared: readonly string[] = []): Promise<{
  scratch: Awaited<ReturnType<typeof scratchDir>>; user: OsUser | null; archive: string; source: SandboxCluster;
}> {
  const scratch = await scratchDir(prefix);
  try {
    await chmod(scratch.path, 0o755); // the source's OS user must reach the archive below it
    const user = await resolveSandboxUser();
    const archive = await ownedDir(join(scratch.path, 'archive'), user);
    const extra = await Promise.all(shared.map((d) => ownedDir(join(scratch.path, d), user)));
    const source = await startSource({
      parentDir: scratch.path, shared: [archive, ...extra],
      settings: { archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'`, wal_level: 'replica', full_page_writes: 'on' },
    });
    return { scratch, user, archive, source };
  } catch (err) {
    await scratch[Symbol.asyncDispose]();
    throw err;
  }
}

/** Wait until `dir/name` exists (the archiver has copied it), up to two minutes. */
export async function waitForFile(dir: string, name: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await access(join(dir, name)).then(() => true, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${name} never appeared in ${dir}: is archive_command working? (see the server log)`);
}

/** Write a little, switch to a new segment, and wait until the segment switched from is archived; `times` times. */
export async function switchWal(c: { sql: (q: string) => Promise<string> }, archive: string, times: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < times; i++) {
    await c.sql(`INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g`);
    const name = (await c.sql('SELECT pg_walfile_name(pg_switch_wal())')).trim();
    await waitForFile(archive, name);
    // The file appears as soon as cp begins; the archiver counts it once cp has exited.
    for (let n = 0; (await c.sql(`SELECT coalesce(last_archived_wal >= '${name}', false) FROM pg_stat_archiver`)).trim() !== 't'; n++) {
      if (n === 1200) throw new Error(`${name} was never reported archived`);
      await sleep(100);
    }
    names.push(name);
  }
  return names;
}

/** A plain pg_basebackup of `source` into `dir` (-X none: its WAL comes from the archive), and where it starts. */
export async function baseBackup(source: SandboxCluster, dir: string): Promise<{ dir: string; startLsn: string; timeline: number; startSegment: string }> {
  const b = await bins();
  const user = source.osUser;
  await runProcess({ bin: join(b.server.bindir, 'pg_basebackup'), args: ['-D', dir, '-h', source.socketDir, '-p', String(source.port), '-U', source.superuser, '-X', 'none', '--checkpoint=fast', '--no-sync'], uid: user?.uid, gid: user?.gid });
  const label = await readFile(join(dir, 'backup_label'), 'utf8');
  const m = /START WAL LOCATION: (\S+) \(file (\S+)\)/.exec(label);
  const t = /START TIMELINE: (\d+)/.exec(label);
  if (!m || !t) throw new Error(`unexpected backup_label: ${label}`);
  return { dir, startLsn: m[1]!, timeline: Number(t[1]), startSegment: m[2]! };
}

/** A server started on a copy of a base backup, run as `user` outside any jail (a DBA's own restore). */
export interface RestoredServer extends AsyncDisposable {
  readonly dataDir: string;
  sql(q: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Copy the base backup `backup` to `dataDir` and start it in archive recovery with `restoreCommand`, archiving with
 * `archiveCommand`; recovery runs to the archive's end and promotes (a new timeline). Resolves once it is promoted.
 */
export async function restoreAndPromote(backup: string, root: string, user: OsUser | null, conf: { restoreCommand: string; archiveCommand: string; port: number }): Promise<RestoredServer> {
  const dataDir = join(root, 'data');
  const sock = await ownedDir(join(root, 'sock'), user);
  await cp(backup, dataDir, { recursive: true });
  if (user) await runProcess({ bin: '/bin/chown', args: ['-R', `${user.uid}:${user.gid}`, root] });
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  await appendFile(join(dataDir, 'postgresql.conf'), `\nrestore_command = ${q(conf.restoreCommand)}\narchive_mode = on\narchive_command = ${q(conf.archiveCommand)}\n` +
    'recovery_target_action = promote\n');
  await writeFile(join(dataDir, 'recovery.signal'), '');
  if (user) await chown(join(dataDir, 'recovery.signal'), user.uid, user.gid);
  return startRecovered(dataDir, root, user, { port: conf.port, sock });
}

/**
 * Start the recovering data directory `dataDir` as `user` (its log in `root`/log, its socket in `at.sock`, options
 * on the command line override its configuration's), and resolve once it has promoted.
 */
export async function startRecovered(dataDir: string, root: string, user: OsUser | null, at: { port: number; sock: string }): Promise<RestoredServer> {
  const b = await bins();
  const as = { uid: user?.uid, gid: user?.gid };
  const log = join(root, 'log');
  const opts = `-c listen_addresses='' -c unix_socket_directories=${at.sock} -c port=${at.port}`;
  await runProcess({ bin: b.path('pg_ctl'), args: ['-D', dataDir, '-l', log, '-w', '-t', '120', '-o', opts, 'start'], ...as, detached: true })
    .catch(async (e: Error) => { throw new Error(`${e.message}\n${await readFile(log, 'utf8').catch(() => '')}`); });
  const sql = async (query: string) =>
    (await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', at.sock, '-p', String(at.port), '-U', 'postgres', '-d', 'postgres', '-c', query], stdout: 'capture' })).stdout;
  // Archive recovery accepts no connection until it has promoted: wait for that.
  for (let i = 0; ; i++) {
    const inRecovery = await sql('SELECT pg_is_in_recovery()').then((o) => o.trim(), () => 'not up');
    if (inRecovery === 'f') break;
    const text = await readFile(log, 'utf8').catch(() => '');
    if (i === 1200 || /database system is shut down/.test(text)) throw new Error(`the restored copy did not promote (${inRecovery}): ${text.slice(-3000)}`);
    await sleep(100);
  }
  const stop = async () => {
    await runProcess({ bin: b.path('pg_ctl'), args: ['-D', dataDir, '-m', 'fast', '-w', 'stop'], ...as, allowFailure: true });
  };
  return { dataDir, sql, stop, [Symbol.asyncDispose]: stop };
}

/** SQL through psql on a test cluster, as switchWal wants it. */
export function sqlOn(c: SandboxCluster): { sql: (q: string) => Promise<string> } {
  return { sql: (q: string) => psql(c, 'postgres', { sql: q }) };
}

/** Every file of a directory tree with its sha256: a repository's contents, to compare before and after a drill. */
export async function treeDigest(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out.set(relative(dir, p), createHash('sha256').update(await readFile(p)).digest('hex'));
  }
  return out;
}
