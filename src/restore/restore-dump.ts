/**
 * Restoring into the sandbox: the globals first (so owners and grantees exist), then the dump — plain dumps
 * through `psql -X -v ON_ERROR_STOP=1` run as the sandbox's OS user with only the sandbox's environment,
 * archives through `pg_restore`. Every error is recorded, never swallowed.
 */
import { createReadStream } from 'node:fs';
import { lfLines } from '../scan/lf-lines.js';
import { scanPlainDumpFile } from '../scan/plain-dump-scanner.js';
import type { PgDumpTransactionLine } from '../scan/types.js';
import { createGunzip } from 'node:zlib';
import { pipeline, type Readable, type Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { dbnameConninfo } from '../exec/name-args.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { runProcess, startProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import type { RestoreError } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import type { DbSession } from '../pg/client.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import { quoteIdent } from '../catalog/tables.js';
import { describeLocale, localeClauses, localeError, SANDBOX_DEFAULT_LOCALE, type DatabaseLocale } from './database-locale.js';
import { parsePgRestoreErrors, parsePsqlErrors } from './restore-errors.js';
import { globalsForSandbox, type TablespaceMove } from './tablespaces.js';
import { blankRanges, type ByteRange } from './transaction-lines.js';
import { attachLoggedStatements, logOffset, readLoggedErrors } from './server-log-errors.js';
import { resolve } from 'node:path';
import { readerCommand, resolveReaderJail } from '../sandbox/reader-jail.js';

/** What a restore step did. */
export interface RestoreStepResult {
  readonly ok: boolean;
  readonly errors: RestoreError[];
  readonly durationMs: number;
}

/**
 * psql's arguments for replaying a script from stdin. ON_ERROR_STOP is never optional: when a COPY fails and psql
 * goes on, it reads the COPY's data lines as commands — a "data" line `\! cmd` would then run (measured on 15.18).
 * `singleTransaction` (`-1`): the whole script is one transaction. In a sandbox with `wal_level = minimal`
 * (restoreSandboxSettings) the tables it creates then skip WAL for their COPY and index builds: the replay of
 * pgbench scale 50 takes ~6.9 s instead of ~8.3 s. An error rolls everything back (psql stops at it anyway).
 */
function psqlArgs(singleTransaction: boolean): string[] {
  return ['-X', '-q', '--no-password', '--echo-errors', '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1', ...(singleTransaction ? ['--single-transaction'] : []), '-f', '-'];
}

/** How psql replays a script. */
export interface PsqlScriptOptions {
  /** Which part of the restore the errors belong to. */
  readonly phase: RestoreError['phase'];
  /** Run the script as one transaction (not for scripts that CREATE DATABASE or \\connect). Default false. */
  readonly singleTransaction?: boolean;
  readonly signal?: AbortSignal;
}

/** A psql replaying a script: the child (the overlapped restore must be able to stop it dead) and its outcome. */
export interface PsqlScriptRun {
  readonly child: ChildProcess;
  /** psql's stdin, when started with input 'pipe'. */
  readonly stdin: Writable | null;
  readonly result: Promise<{ readonly exitCode: number | null; readonly errors: RestoreError[] }>;
}

/**
 * Start psql replaying the script read from `input` ('pipe': the caller writes `stdin`); `result` resolves when
 * psql ended, with every error it reported. The overlapped restore (src/pipeline/restore/overlapped-restore.ts) writes psql's
 * stdin itself while pg_dump still runs.
 */
export function startPsqlScript(sandbox: SandboxCluster, bins: Toolchain, database: string, input: Readable | 'pipe', o: PsqlScriptOptions): PsqlScriptRun {
  const { phase, signal } = o;
  const stderr: string[] = [];
  const logFrom = logOffset(sandbox.logFile); // the server's own record of each failed statement starts after this
  // psql runs as the sandbox's OS user in the sandbox's jail: a meta-command that got past the scanner is confined like the server.
  const proc = startProcess({
    ...sandbox.jailedCommand(bins.path('psql'), psqlArgs(o.singleTransaction ?? false)), env: sandbox.env(database), stdin: input,
    cwd: '/', signal, allowFailure: true, onStderrLine: (l) => stderr.push(l),
  });
  const result = proc.done.then(async (r) => {
    const parsed = parsePsqlErrors(stderr, phase);
    const errors = parsed.length ? attachLoggedStatements(parsed, await readLoggedErrors(sandbox.logFile, logFrom, sandbox.serverFileOwners)) : parsed;
    if (r.exitCode !== 0 && errors.length === 0) {
      errors.push({ message: `psql exited with code ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}: ${r.stderrTail.trim().slice(-500)}`, sqlstate: null, statement: null, line: null, phase, classification: 'unknown', hint: null });
    }
    return { exitCode: r.exitCode, errors };
  });
  result.catch(() => {}); // awaited by the caller; never an unhandled rejection meanwhile
  return { child: proc.child, stdin: proc.stdin, result };
}


/**
 * Replay the globals script, stopping at the first error. It is a psql script too, so it is scanned first and
 * refused on anything pg_dumpall never writes. The sandbox's superuser is named so that it collides with no role
 * the script creates (see `sandboxSuperuserFor`), so "already exists" does not happen.
 */
export async function restoreGlobals(sandbox: SandboxCluster, bins: Toolchain, path: string, signal?: AbortSignal): Promise<RestoreStepResult & { readonly tablespaces: readonly TablespaceMove[] }> {
  const t0 = performance.now();
  const scan = await scanPlainDumpFile(path);
  if (scan.findings.length) {
    const f = scan.findings[0]!;
    return {
      ok: false, durationMs: Math.round(performance.now() - t0), tablespaces: [],
      errors: [{ message: `globals refused before replay: line ${f.line}: ${f.kind} \`${f.text}\` (${scan.findings.length} finding(s))`, sqlstate: null, statement: null, line: f.line, phase: 'globals', classification: 'backup_defect', hint: 'the globals script holds something pg_dumpall never writes; it was not run' }],
    };
  }
  if ((await rolesCreatedBy(path)).has(sandbox.superuser)) {
    return {
      ok: false, durationMs: Math.round(performance.now() - t0), tablespaces: [],
      errors: [{ message: `globals not replayed: they create role "${sandbox.superuser}", the sandbox's own superuser (the role appeared on the source during the drill)`, sqlstate: null, statement: null, line: null, phase: 'globals', classification: 'environment_defect', hint: 'run the drill again: the sandbox then picks another name' }],
    };
  }
  // Tablespace locations move into the sandbox (src/restore/tablespaces.ts): never the source's directories.
  const { input, moves } = globalsForSandbox(path, sandbox);
  const { errors } = await startPsqlScript(sandbox, bins, 'postgres', input, { phase: 'globals', signal }).result;
  return { ok: errors.length === 0, errors, durationMs: Math.round(performance.now() - t0), tablespaces: moves };
}

/** Roles a pg_dumpall script creates (`CREATE ROLE name;` lines), read as a stream. */
export async function rolesCreatedBy(globalsPath: string): Promise<Set<string>> {
  const roles = new Set<string>();
  for await (const line of lfLines(createReadStream(globalsPath))) {
    const m = /^CREATE ROLE (?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*));$/.exec(line);
    if (m) roles.add(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  }
  return roles;
}

/** A sandbox superuser name that no role of the source uses ('pgdrill', else 'pgdrill_sandbox_N'). */
export function sandboxSuperuserFor(sourceRoles: ReadonlySet<string>): string {
  if (!sourceRoles.has('pgdrill')) return 'pgdrill';
  for (let i = 1; ; i++) if (!sourceRoles.has(`pgdrill_sandbox_${i}`)) return `pgdrill_sandbox_${i}`;
}

/**
 * pg_dump's entry types whose owner PostgreSQL requires to be a superuser (`ALTER … OWNER TO` fails otherwise): an
 * event trigger, a foreign-data wrapper, a subscription (before 16), a publication FOR ALL TABLES or FOR TABLES IN
 * SCHEMA (any publication here: the header does not say which).
 */
const SUPERUSER_OWNED = new Set(['EVENT TRIGGER', 'FOREIGN DATA WRAPPER', 'SUBSCRIPTION', 'PUBLICATION']);

/** The owners of the dump's entries that only a superuser may own (SUPERUSER_OWNED). */
export function superuserOwners(entries: readonly { readonly type: string; readonly owner: string | null }[]): Set<string> {
  return new Set(entries.flatMap((e) => (e.owner !== null && SUPERUSER_OWNED.has(e.type) ? [e.owner] : [])));
}

/**
 * Create NOLOGIN placeholders for roles that the dump references but that could not be captured. A role the dump
 * makes owner of an object only a superuser may own (`superusers`, see superuserOwners) must have been one on the
 * source: its placeholder is a superuser too, or the restore of a good dump fails on `ALTER EVENT TRIGGER … OWNER TO`.
 * @returns the roles created, and of those the superusers.
 */
export async function createPlaceholderRoles(sandbox: SandboxCluster, roles: readonly string[], superusers: ReadonlySet<string> = new Set()): Promise<{ created: string[]; superusers: string[] }> {
  await using db = await sandbox.open('postgres');
  const existing = new Set((await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).map((r) => r.rolname));
  const created: string[] = [];
  for (const r of roles) {
    if (existing.has(r) || r === 'PUBLIC') continue;
    await db.query(`CREATE ROLE ${quoteIdent(r)} NOLOGIN${superusers.has(r) ? ' SUPERUSER' : ''}`);
    created.push(r);
  }
  return { created, superusers: created.filter((r) => superusers.has(r)) };
}

/**
 * Create the target database (template0, the source's encoding and locale: database-locale.ts), on `session` (a
 * session of the sandbox's `template1` database, or of any database but the one created) when given, else on a
 * session of its own (in `template1`).
 *
 * `STRATEGY FILE_COPY` from PostgreSQL 15 on (older servers only copy files): 15's default, WAL_LOG, writes the
 * template's ~7.5 MB through shared buffers and the WAL, page by page — 0.4–0.6 s beside pg_dump in a drill at
 * pgbench scale 50, against 0.14–0.46 s for the file copy (3 alternating pairs), on the path to psql's first line.
 * Its two checkpoints cost nothing in a sandbox that just started with fsync off. The database is the same copy of
 * template0 either way.
 *
 * A drill of `postgres` finds initdb's own, empty `postgres` (UTF8, libc C): restored into as it is when the source's
 * has the same encoding and locale, else dropped and created again with the source's (nobody may be connected to it
 * then: pgdrill's sessions reconnect afterwards). Another existing database (`template1`) cannot be replaced.
 * @param locale Default SANDBOX_DEFAULT_LOCALE (libc C).
 * @throws EnvironmentError when the sandbox's machine lacks the locale (named, with how to install it).
 */
export async function createDatabase(sandbox: SandboxCluster, name: string, encoding = 'UTF8', session?: DbSession, locale: DatabaseLocale | null = null): Promise<void> {
  await using own = session ? null : await sandbox.open('template1');
  const db = session ?? own!;
  const want = locale ?? SANDBOX_DEFAULT_LOCALE;
  const [row] = await db.query<{ v: string; existing: string | null; here: string }>(
    `SELECT current_setting('server_version_num') AS v, (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = $1) AS existing, current_database() AS here`, [name]);
  if (row!.existing !== null) {
    const other = row!.existing.toUpperCase() !== encoding.toUpperCase() ? `${encoding} database`
      : describeLocale(want) !== describeLocale(SANDBOX_DEFAULT_LOCALE) ? `database with locale ${describeLocale(want)}` : null;
    if (!other) return;
    if (name !== 'postgres' || row!.here === name) {
      throw new Error(`cannot restore a ${other} named ${quoteIdent(name)}: the sandbox's own ${quoteIdent(name)} database (made by initdb, ${row!.existing}) ` +
        `has that name and cannot be replaced — only a ${row!.existing} database of that name with locale ${describeLocale(SANDBOX_DEFAULT_LOCALE)} can be drilled`);
    }
    await db.query(`DROP DATABASE ${quoteIdent(name)}`);
  }
  const v = Number(row!.v);
  const strategy = v >= 150000 ? ' STRATEGY FILE_COPY' : '';
  try {
    await db.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING '${encoding.replace(/'/g, '')}'${localeClauses(want, v)}${strategy}`);
  } catch (err) {
    throw localeError(err, want, encoding);
  }
}

/**
 * Drop a database of the sandbox (from `template1`; nobody may be connected to it): a restore that is done again
 * starts from an empty one. A database that holds a subscription cannot be dropped ("is being used by logical
 * replication subscription"): each is dropped first, detached from its slot (pg_dump restores it with
 * `connect = false`, disabled; dropping it with a slot name would try to reach the publisher).
 */
export async function dropDatabase(sandbox: SandboxCluster, name: string): Promise<void> {
  await using db = await sandbox.open('template1');
  const subs = await db.query<{ subname: string }>(
    'SELECT s.subname FROM pg_catalog.pg_subscription s JOIN pg_catalog.pg_database d ON d.oid = s.subdbid WHERE d.datname = $1', [name]);
  if (subs.length) {
    await using own = await sandbox.open(name);
    for (const { subname } of subs) {
      const q = quoteIdent(subname);
      await own.query(`ALTER SUBSCRIPTION ${q} DISABLE`);
      await own.query(`ALTER SUBSCRIPTION ${q} SET (slot_name = NONE)`);
      await own.query(`DROP SUBSCRIPTION ${q}`);
    }
  }
  await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
}

/**
 * Where psql starts a dump made with `pg_dump --create` (which creates its database, then `\connect`s to it): the
 * sandbox's `postgres`, unless the dump creates `postgres` itself — then that initdb-made, empty database is dropped
 * first (from `template1`, where psql then starts), or the dump's CREATE DATABASE would fail with "already exists".
 */
export async function startDatabaseForCreate(sandbox: SandboxCluster, created: string): Promise<string> {
  if (created !== 'postgres') return 'postgres';
  await using db = await sandbox.open('template1');
  await db.query('DROP DATABASE IF EXISTS postgres');
  return 'template1';
}

/** What `restoreDump` needs. */
export interface RestoreDumpOptions {
  readonly sandbox: SandboxCluster;
  readonly bins: Toolchain;
  readonly path: string;
  readonly format: ArtifactFormat;
  readonly database: string;
  /** Parallel jobs for archives (not tar). Default: min(4, cores). */
  readonly jobs?: number;
  /** Plain dumps: replay as one transaction (see psqlArgs). Default false. */
  readonly singleTransaction?: boolean;
  /**
   * Archives: `pg_restore --single-transaction` (serial, stops at the first error and rolls everything back), used to
   * restore an archive again when its first restore reported errors: one real error is then one finding. Default false.
   */
  readonly archiveSingleTransaction?: boolean;
  /** Plain dumps replayed as one transaction: pg_dump's own BEGIN/COMMIT lines around large objects, dropped (src/restore/transaction-lines.ts). Default none. */
  readonly pgDumpTransactionLines?: readonly PgDumpTransactionLine[];
  /** Plain dumps: byte ranges held back from psql whatever the transaction mode (foreign-table COPY blocks: src/pipeline/restore/foreign-data.ts), ascending. Default none. */
  readonly omit?: readonly ByteRange[];
  /** Archives: a `pg_restore --use-list` file naming the entries to restore (foreign-table data left out). Default: every entry. */
  readonly useList?: string;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

/** Restore the dump into an existing, empty database. */
export async function restoreDump(o: RestoreDumpOptions): Promise<RestoreStepResult> {
  const t0 = performance.now();
  if (o.format === 'plain' || o.format === 'plain-gzip') {
    const file = createReadStream(o.path);
    // pipeline, not pipe: a read error of the file reaches the gunzip stream, whose errors the process wrapper handles.
    const text = o.format === 'plain-gzip' ? pipeline(file, createGunzip(), () => {}) : file;
    const txLines = o.singleTransaction ? o.pgDumpTransactionLines ?? [] : [];
    const blank = txLines.length || o.omit?.length ? [...txLines, ...(o.omit ?? [])].sort((a, b) => a.start - b.start) : null;
    const input = blank ? pipeline(text, blankRanges(blank), () => {}) : text;
    if (txLines.length) o.logger.info(`restore: pg_dump's own BEGIN/COMMIT around large objects (lines ${txLines.slice(0, 6).map((l) => l.line).join(', ')}${txLines.length > 6 ? ', …' : ''}) dropped: the restore stays one transaction`);
    const { exitCode, errors } = await startPsqlScript(o.sandbox, o.bins, o.database, input, { phase: 'dump', singleTransaction: o.singleTransaction, signal: o.signal }).result;
    return { ok: exitCode === 0 && errors.length === 0, errors, durationMs: Math.round(performance.now() - t0) };
  }
  const stderr: string[] = [];
  const args = ['--no-password', `--dbname=${dbnameConninfo(o.database)}`];
  if (o.archiveSingleTransaction) args.push('--single-transaction');
  else if (o.format !== 'tar' && (o.jobs ?? 1) > 1) args.push(`--jobs=${o.jobs}`);
  if (o.useList) args.push(`--use-list=${resolve(o.useList)}`);
  const abs = resolve(o.path);
  args.push(abs);
  const logFrom = logOffset(o.sandbox.logFile);
  // pg_restore reads the archive as root, so it sees only the archive and the sandbox's socket (src/sandbox/reader-jail.ts).
  const cmd = readerCommand(await resolveReaderJail(), o.bins.path('pg_restore'), args, { ro: [abs, ...(o.useList ? [resolve(o.useList)] : [])], socketDir: o.sandbox.socketDir });
  const r = await runProcess({
    ...cmd, env: o.sandbox.env(o.database), signal: o.signal, allowFailure: true,
    onStderrLine: (l) => stderr.push(l),
  });
  const parsed = parsePgRestoreErrors(stderr);
  const errors = parsed.length ? attachLoggedStatements(parsed, await readLoggedErrors(o.sandbox.logFile, logFrom, o.sandbox.serverFileOwners)) : parsed;
  if (r.exitCode !== 0 && errors.length === 0) {
    errors.push({ message: `pg_restore exited with code ${r.exitCode}: ${r.stderrTail.trim().slice(-500)}`, sqlstate: null, statement: null, line: null, phase: 'dump', classification: 'unknown', hint: null });
  }
  o.logger.info(`pg_restore exited ${r.exitCode} with ${errors.length} error(s)`);
  return { ok: r.exitCode === 0 && errors.length === 0, errors, durationMs: Math.round(performance.now() - t0) };
}
