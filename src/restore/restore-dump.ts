/**
 * Restoring into the sandbox: the globals first (so owners and grantees exist), then the dump — plain dumps
 * through `psql -X -v ON_ERROR_STOP=1` run as the sandbox's OS user with only the sandbox's environment,
 * archives through `pg_restore`. Every error is recorded, never swallowed.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { PgBinaries } from '../exec/binaries.js';
import { runProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import type { RestoreError } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import { quoteIdent } from '../catalog/tables.js';
import { parsePgRestoreErrors, parsePsqlErrors } from './restore-errors.js';

/** What a restore step did. */
export interface RestoreStepResult {
  readonly ok: boolean;
  readonly errors: RestoreError[];
  readonly durationMs: number;
}

/** psql's arguments for replaying a script from stdin. */
function psqlArgs(stopOnError: boolean): string[] {
  return ['-X', '-q', '--no-password', '--echo-errors', '-v', 'VERBOSITY=verbose', ...(stopOnError ? ['-v', 'ON_ERROR_STOP=1'] : []), '-f', '-'];
}

async function psqlScript(sandbox: SandboxCluster, bins: PgBinaries, database: string, input: Readable, stopOnError: boolean, phase: RestoreError['phase'], signal?: AbortSignal) {
  const stderr: string[] = [];
  const r = await runProcess({
    bin: bins.path('psql'), args: psqlArgs(stopOnError), env: sandbox.env(database), stdin: input,
    uid: sandbox.osUser?.uid, gid: sandbox.osUser?.gid, cwd: '/', signal, allowFailure: true, onStderrLine: (l) => stderr.push(l),
  });
  const errors = parsePsqlErrors(stderr, phase);
  if (r.exitCode !== 0 && errors.length === 0) {
    errors.push({ message: `psql exited with code ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}: ${r.stderrTail.trim().slice(-500)}`, sqlstate: null, statement: null, line: null, phase, classification: 'unknown', hint: null });
  }
  return { exitCode: r.exitCode, errors };
}

/** Replay the globals script. "role … already exists" is expected (the sandbox's own superuser) and marked benign. */
export async function restoreGlobals(sandbox: SandboxCluster, bins: PgBinaries, path: string, signal?: AbortSignal): Promise<RestoreStepResult> {
  const t0 = performance.now();
  const { errors } = await psqlScript(sandbox, bins, 'postgres', createReadStream(path), false, 'globals', signal);
  for (const e of errors) {
    if (e.sqlstate === '42710' || /already exists/.test(e.message)) {
      e.classification = 'benign';
      e.hint = 'the role already exists in the sandbox; its attributes are set by the ALTER ROLE that follows';
    }
  }
  return { ok: errors.every((e) => e.classification === 'benign'), errors, durationMs: Math.round(performance.now() - t0) };
}

/** Create NOLOGIN placeholders for roles that the dump references but that could not be captured. */
export async function createPlaceholderRoles(sandbox: SandboxCluster, roles: readonly string[]): Promise<string[]> {
  await using db = await sandbox.open('postgres');
  const existing = new Set((await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).map((r) => r.rolname));
  const created: string[] = [];
  for (const r of roles) {
    if (existing.has(r) || r === 'PUBLIC') continue;
    await db.query(`CREATE ROLE ${quoteIdent(r)} NOLOGIN`);
    created.push(r);
  }
  return created;
}

/** Create the target database (template0, the source's encoding, C locale: collation changes order, not content). */
export async function createDatabase(sandbox: SandboxCluster, name: string, encoding = 'UTF8'): Promise<void> {
  await using db = await sandbox.open('postgres');
  await db.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING '${encoding.replace(/'/g, '')}' LOCALE 'C'`);
}

/** What `restoreDump` needs. */
export interface RestoreDumpOptions {
  readonly sandbox: SandboxCluster;
  readonly bins: PgBinaries;
  readonly path: string;
  readonly format: ArtifactFormat;
  readonly database: string;
  /** Parallel jobs for archives (not tar). Default: min(4, cores). */
  readonly jobs?: number;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

/** Restore the dump into an existing, empty database. */
export async function restoreDump(o: RestoreDumpOptions): Promise<RestoreStepResult> {
  const t0 = performance.now();
  if (o.format === 'plain' || o.format === 'plain-gzip') {
    const file = createReadStream(o.path);
    const input = o.format === 'plain-gzip' ? file.pipe(createGunzip()) : file;
    const { exitCode, errors } = await psqlScript(o.sandbox, o.bins, o.database, input, true, 'dump', o.signal);
    return { ok: exitCode === 0 && errors.length === 0, errors, durationMs: Math.round(performance.now() - t0) };
  }
  const stderr: string[] = [];
  const args = ['--no-password', `--dbname=${o.database}`];
  if (o.format !== 'tar' && (o.jobs ?? 1) > 1) args.push(`--jobs=${o.jobs}`);
  args.push(o.path);
  const r = await runProcess({
    bin: o.bins.path('pg_restore'), args, env: o.sandbox.env(o.database), signal: o.signal, allowFailure: true,
    onStderrLine: (l) => stderr.push(l),
  });
  const errors = parsePgRestoreErrors(stderr);
  if (r.exitCode !== 0 && errors.length === 0) {
    errors.push({ message: `pg_restore exited with code ${r.exitCode}: ${r.stderrTail.trim().slice(-500)}`, sqlstate: null, statement: null, line: null, phase: 'dump', classification: 'unknown', hint: null });
  }
  o.logger.info(`pg_restore exited ${r.exitCode} with ${errors.length} error(s)`);
  return { ok: r.exitCode === 0 && errors.length === 0, errors, durationMs: Math.round(performance.now() - t0) };
}
