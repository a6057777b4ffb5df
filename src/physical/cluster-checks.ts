/**
 * The recovered cluster's checks: every database connects and its tables are counted exactly
 * (`fidelity.databases`), pg_amcheck on every database (`fidelity.amcheck`), and — after a clean shutdown, when
 * the backup has data checksums — pg_checksums --check over every page (`fidelity.pg_checksums`).
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { countRows, listTables } from '../catalog/tables.js';
import { describePgError } from '../errors.js';
import { runProcess } from '../exec/run-process.js';
import { ensureAmcheck, hasPgAmcheck, runAmcheck, type AmcheckRelation } from '../fidelity/amcheck.js';
import type { CheckResult, PhysicalReport, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import type { Toolchain } from '../toolchain/toolchain.js';

type DatabaseFacts = PhysicalReport['databases'][number];

/** The databases that allow connections, in name order. */
export async function listDatabases(cluster: SandboxCluster, signal?: AbortSignal): Promise<string[]> {
  await using db = await cluster.open('postgres', signal).catch(() => cluster.open('template1', signal));
  return (await db.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname')).map((r) => r.datname);
}

/**
 * One database's tables, counted exactly: ordinary tables only (relkind 'r', src/catalog/tables.ts) — never a foreign
 * table, whose rows are another server's. A function of its own, not an `await using` block in countDatabases' loop:
 * lowered for Node 20, that block's error flag is hoisted (`var`), so after one database failed every later one would
 * have been reported with the same error (see `promoted` in recover.ts).
 */
async function countDatabase(cluster: SandboxCluster, name: string, signal?: AbortSignal): Promise<Awaited<ReturnType<typeof countRows>>> {
  await using db = await cluster.open(name, signal);
  return await countRows(db, await listTables(db), signal);
}

/**
 * Connect to each database and count its tables exactly. Table rows go to the report as `database/schema`, `name`
 * (a physical copy holds every database: the baseline compares them all).
 */
export async function countDatabases(cluster: SandboxCluster, names: readonly string[], tables: TableRow[], signal?: AbortSignal): Promise<{ check: CheckResult; databases: DatabaseFacts[] }> {
  const databases: DatabaseFacts[] = [];
  for (const name of names) {
    try {
      const counts = await countDatabase(cluster, name, signal);
      for (const c of counts) tables.push({ schema: `${name}/${c.schema}`, name: c.name, source_rows: null, restored_rows: c.rows, match: true });
      databases.push({ name, connected: true, tables: counts.length, rows: counts.reduce((a, c) => a + c.rows, 0), error: null });
    } catch (err) {
      signal?.throwIfAborted();
      databases.push({ name, connected: false, tables: 0, rows: 0, error: describePgError(err) });
    }
  }
  const bad = databases.filter((d) => d.error);
  const check: CheckResult = {
    name: 'fidelity.databases', stage: 'fidelity', status: bad.length ? 'fail' : 'pass',
    detail: bad.length
      ? `${bad.length} of ${databases.length} database(s) failed: ${bad.map((d) => `${d.name}: ${d.error}`).join('; ')}`
      : `${databases.length} database(s) connect; ${databases.reduce((a, d) => a + d.tables, 0)} table(s), ${databases.reduce((a, d) => a + d.rows, 0)} rows counted exactly (${databases.map((d) => `${d.name} ${d.tables}/${d.rows}`).join(', ')})`,
    evidence: { databases },
  };
  return { check, databases };
}

/** The amcheck extension in one database (a function of its own: no `await using` block in a loop, eslint.config.js). */
async function ensureAmcheckIn(cluster: SandboxCluster, db: string, signal?: AbortSignal): Promise<Awaited<ReturnType<typeof ensureAmcheck>>> {
  await using s = await cluster.open(db, signal);
  return await ensureAmcheck(s);
}

/** pg_amcheck (heap, TOAST, B-tree, heapallindexed) on every database, the amcheck extension created where missing. */
export async function amcheckDatabases(cluster: SandboxCluster, bins: Toolchain, names: readonly string[], signal?: AbortSignal): Promise<CheckResult> {
  const name = 'fidelity.amcheck';
  if (!(await hasPgAmcheck(bins))) return { name, stage: 'fidelity', status: 'warn', detail: 'pg_amcheck was not found: the recovered copy\'s structure was not checked' };
  const corrupt: AmcheckRelation[] = [];
  const errors: string[] = [];
  let relations = 0;
  for (const db of names) {
    if ((await ensureAmcheckIn(cluster, db, signal)) === 'unavailable') return { name, stage: 'fidelity', status: 'warn', detail: `the amcheck extension is not available on the sandbox's server (${bins.server.bindir}): install its contrib modules` };
    const r = await runAmcheck({ bins, env: cluster.env(db), database: db, heapallindexed: true, signal });
    relations += r.relations.length;
    corrupt.push(...r.relations.filter((x) => x.status === 'corrupt').map((x) => ({ ...x, relation: `${db}.${x.relation}` })));
    if (r.error) errors.push(`${db}: ${r.error}`);
  }
  const ok = !corrupt.length && !errors.length;
  return {
    name, stage: 'fidelity', status: ok ? 'pass' : 'fail',
    detail: ok
      ? `pg_amcheck --heapallindexed on ${names.length} database(s): ${relations} relation(s), no corruption`
      : `${corrupt.length ? `corruption in ${corrupt.slice(0, 10).map((c) => `${c.kind} ${c.relation}: ${c.messages[0] ?? ''}`).join('; ')}` : ''}${errors.length ? `${corrupt.length ? '; ' : ''}pg_amcheck could not check: ${errors.join('; ')}` : ''}`,
    evidence: { relations, corrupt: corrupt.slice(0, 50), errors },
  };
}

/** A program of the server's major beside the server (pg_checksums, pg_verifybackup: Debian ships them there). */
export async function serverProgram(bins: Toolchain, program: string): Promise<string | null> {
  const path = join(bins.server.bindir, program);
  return access(path, constants.X_OK).then(() => path, () => null);
}

/**
 * Stop the copy cleanly (a shutdown checkpoint: pg_checksums refuses a cluster that was not), then pg_checksums
 * --check, as the sandbox user in its jail. `enabled`: data_checksums of the running copy.
 */
export async function checksumsCheck(cluster: SandboxCluster, bins: Toolchain, enabled: boolean, signal?: AbortSignal): Promise<CheckResult> {
  const name = 'fidelity.pg_checksums';
  if (!enabled) return { name, stage: 'fidelity', status: 'skip', detail: 'data checksums are off in this cluster (initdb without --data-checksums): pg_amcheck is what read the pages' };
  const prog = await serverProgram(bins, 'pg_checksums');
  if (!prog) return { name, stage: 'fidelity', status: 'warn', detail: `no pg_checksums beside the server in ${bins.server.bindir}: the page checksums were not verified` };
  const stop = cluster.jailedCommand(bins.path('pg_ctl'), ['-D', cluster.dataDir, '-m', 'fast', '-w', '-t', '300', 'stop']);
  const s = await runProcess({ ...stop, signal, allowFailure: true });
  if (s.exitCode !== 0) return { name, stage: 'fidelity', status: 'fail', detail: `the copy did not shut down cleanly for pg_checksums: ${s.stderrTail.trim()}` };
  const lines: string[] = [];
  const r = await runProcess({ ...cluster.jailedCommand(prog, ['--check', '-D', cluster.dataDir]), signal, allowFailure: true, stdout: 'capture', onStderrLine: (l) => lines.push(l) });
  const bad = r.stdout.match(/^Bad checksums:\s+(\d+)/m)?.[1];
  const scanned = r.stdout.match(/^Blocks scanned:\s+(\d+)/m)?.[1];
  if (r.exitCode === 0) return { name, stage: 'fidelity', status: 'pass', detail: `pg_checksums --check after a clean shutdown: ${scanned ?? '?'} blocks scanned, every checksum correct`, evidence: { stdout: r.stdout.trim() } };
  return {
    name, stage: 'fidelity', status: 'fail',
    detail: `pg_checksums --check found ${bad ?? 'unknown'} bad checksum(s)${scanned ? ` in ${scanned} blocks` : ''}: ${lines.filter((l) => /checksum verification failed|error/i.test(l)).slice(0, 5).join('; ') || r.stderrTail.trim()}`,
    evidence: { exit_code: r.exitCode, stderr: lines.slice(0, 50), stdout: r.stdout.trim() },
  };
}
