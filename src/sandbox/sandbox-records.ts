/**
 * The record of every sandbox pgdrill created and has not torn down yet, one file per sandbox in the state directory
 * (`<state>/sandboxes/<id>.json`, state-dir.ts). The code that creates a sandbox writes it as soon as the
 * sandbox's directories exist — before anything runs in them — and removes it once teardown is confirmed; a
 * pgdrill killed in between leaves it behind, and that is what `pgdrill cleanup` works from. The marker file inside
 * the sandbox (marker.ts) is owned by the sandbox's OS user and proves nothing; this record is the proof.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { EnvironmentError } from '../errors.js';
import { ensureStateDir, privateDirProblem, readOwnFile } from './state-dir.js';

const RecordSchema = z.object({
  version: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  label: z.string(),
  host: z.string(),
  /** The pgdrill process that created the sandbox, and its start time (clock ticks since boot, /proc/PID/stat). */
  pgdrill_pid: z.number().int().positive(),
  pgdrill_start_ticks: z.number().int().nullable(),
  /** Canonical (realpath) directories, made by pgdrill. */
  root_dir: z.string().startsWith('/'),
  data_dir: z.string().startsWith('/'),
  socket_dir: z.string().startsWith('/'),
  /** The uid the server runs as: the sandbox's OS user, or pgdrill's own uid when it runs as the caller. */
  server_uid: z.number().int().nonnegative(),
  /** The postmaster, once started (pid and start ticks): a pid alone could be reused. */
  postmaster_pid: z.number().int().positive().nullable(),
  postmaster_start_ticks: z.number().int().nullable(),
  created_at: z.string(),
  /** Left running on purpose (`--keep`). */
  kept: z.boolean(),
}).strict();

/** What pgdrill records about a sandbox it created. */
export type SandboxRecord = z.infer<typeof RecordSchema>;

/** A record file, read back. */
export interface StoredRecord {
  readonly path: string;
  readonly record: SandboxRecord;
}

/** What `readSandboxRecords` found: the records, and the files in the state directory it would not trust. */
export interface SandboxRecords {
  readonly records: StoredRecord[];
  readonly refused: { readonly path: string; readonly reason: string }[];
}

function recordsDir(stateDir: string): string {
  return join(stateDir, 'sandboxes');
}

async function writeRecordFile(path: string, record: SandboxRecord): Promise<void> {
  // Written aside, then renamed: a reader never sees half a record.
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
  await rename(tmp, path);
}

/** A new record's fields that the creator supplies. */
export type NewSandboxRecord = Pick<SandboxRecord, 'label' | 'pgdrill_pid' | 'pgdrill_start_ticks' | 'root_dir' | 'data_dir' | 'socket_dir' | 'server_uid'>;

/**
 * Record a sandbox about to be created (its directories exist, nothing runs yet). Returns the record and where it is.
 * @throws EnvironmentError when the state directory is not private (state-dir.ts).
 */
export async function recordSandbox(stateDir: string | undefined, fields: NewSandboxRecord): Promise<StoredRecord> {
  const dir = recordsDir(await ensureStateDir(stateDir));
  await ensureStateDir(dir);
  const record: SandboxRecord = {
    version: 1, id: randomBytes(8).toString('hex'), host: hostname(), ...fields,
    postmaster_pid: null, postmaster_start_ticks: null, created_at: new Date().toISOString(), kept: false,
  };
  const path = join(dir, `${record.id}.json`);
  await writeRecordFile(path, record).catch((err: Error) => {
    throw new EnvironmentError(`cannot record the sandbox in pgdrill's state directory (${path}): ${err.message}. Free space there, or set PGDRILL_STATE_DIR.`, undefined, { cause: err });
  });
  return { path, record };
}

/** Replace fields of a record (the postmaster once started; `kept`). */
export async function updateSandboxRecord(stored: StoredRecord, patch: Partial<Pick<SandboxRecord, 'postmaster_pid' | 'postmaster_start_ticks' | 'kept'>>): Promise<StoredRecord> {
  const record = { ...stored.record, ...patch };
  await writeRecordFile(stored.path, record);
  return { path: stored.path, record };
}

/** Forget a sandbox (its teardown is confirmed, or cleanup removed it). */
export async function dropSandboxRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Every record in the state directory that only the user running pgdrill can have written (state-dir.ts's
 * `readOwnFile`), and the files refused with the reason. A state directory that is not private yields no record at
 * all: one refusal naming it.
 */
export async function readSandboxRecords(stateDir: string): Promise<SandboxRecords> {
  const dir = recordsDir(stateDir);
  const records: StoredRecord[] = [];
  const refused: { path: string; reason: string }[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records, refused };
    return { records, refused: [{ path: dir, reason: `cannot list pgdrill's sandbox records: ${(e as Error).message}` }] };
  }
  for (const d of [stateDir, dir]) {
    const problem = await privateDirProblem(d);
    if (problem) return { records, refused: [{ path: d, reason: `pgdrill's state directory is not private (${problem}): no record in it is trusted` }] };
  }
  for (const n of names.sort()) {
    if (!n.endsWith('.json')) continue;
    const path = join(dir, n);
    const read = await readOwnFile(path);
    if ('problem' in read) {
      refused.push({ path, reason: `not a record pgdrill wrote: ${read.problem}` });
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(read.text);
    } catch {
      json = null;
    }
    const parsed = RecordSchema.safeParse(json);
    if (!parsed.success || `${parsed.data.id}.json` !== n) {
      refused.push({ path, reason: 'not a record pgdrill wrote: unreadable or malformed' });
      continue;
    }
    records.push({ path, record: parsed.data });
  }
  return { records, refused };
}
