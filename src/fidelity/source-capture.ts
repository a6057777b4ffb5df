/**
 * The source's side of the fidelity checks, taken in the dump's own exported snapshot (the `SourceSnapshot`
 * session that also counts rows), so that everything compared later describes exactly what the dump holds:
 *
 * - `begin` (before pg_dump starts): fixes the session's text settings, reads the installed extensions and every
 *   sequence's position (sequences are not transactional: read before pg_dump, the position is a lower bound of
 *   what pg_dump will write), and, only when the dump itself cannot give the round trip's source side
 *   (schema-from-dump.ts: another pg_dump major dumps the restored copy), starts `pg_dump --schema-only --snapshot=…`.
 * - `finish` (after the row counts, on the same session while pg_dump streams): the catalog facts (into
 *   SOURCE_CATALOG_FILE), the source's row hashes of the tables (only with `source.witness: hashes`), and waits for
 *   the schema dump. The large objects (`deep`) and, usually, the schema come from the dump afterwards (`withDumpSide`).
 *
 * Each step runs in a savepoint: a step that fails (a lock timeout, a permission) is recorded and becomes a failing
 * fidelity check, but can neither abort the snapshot's transaction (which would invalidate the snapshot pg_dump
 * uses) nor fail the backup. Only an interrupt propagates. A step that succeeded is rolled back to its savepoint
 * too (it only read), which gives back the locks it took: the session never holds them all at once (lock-table.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Toolchain } from '../toolchain/toolchain.js';
import type { AuditEntry, DbSession } from '../pg/client.js';
import type { TableFailure, TableRef } from '../catalog/tables.js';
import { captureCatalog, type CatalogCapture } from './catalog-facts.js';
import { hashSourceTables, type TableHash } from './content-hash.js';
import { installedExtensions, type ExtensionVersion } from './extensions.js';
import type { LargeObjectHash } from './large-object-hash.js';
import { dumpSchema, schemaDumpArgs } from './round-trip.js';
import { readSequencePositions, type SequencePosition } from './sequences.js';
import { prepareFidelitySession } from './session.js';
import { readDumpSessionSettings, type DumpSessionSettings } from './copy-hash-restored.js';
import type { DumpSideFidelity } from './schema-from-dump.js';

/** Where the source's catalog facts wait for the restored copy (in the fidelity directory; removed once compared). */
export const SOURCE_CATALOG_FILE = 'source-catalog.ndjson';

/** What the source side captured; each part is null when its step failed (see `errors`) or did not run. */
export interface SourceFidelity {
  readonly extensions: ExtensionVersion[] | null;
  readonly sequences: SequencePosition[] | null;
  readonly catalog: CatalogCapture | null;
  /** The source server's row hashes in the snapshot; null unless `witnessHashes` (or when they failed: `errors.hashes`). */
  readonly hashes: TableHash[] | null;
  /** `source.witness: hashes`: the tables were to be hashed on the source. */
  readonly witnessHashes: boolean;
  /** pg_dump's session settings that change COPY text (TimeZone, bytea_output, lc_monetary), read in the snapshot session before it set its own; null when they could not be read. */
  readonly dumpSession: DumpSessionSettings | null;
  /** Tables whose hash failed on its own (the others were hashed); empty unless `witnessHashes`. */
  readonly hashFailures: readonly TableFailure[];
  /** Every large object's sha256, read from the dump's BLOBS entries; null unless `deep` (or when that failed: `errors.large_objects`). */
  readonly largeObjects: LargeObjectHash[] | null;
  /** The tables' and large objects' hashing. */
  readonly hashesMs: number;
  /** The round trip's source side: the dump's schema entries, or a schema-only pg_dump in the snapshot (`from`). */
  readonly schemaDump: { readonly path: string; readonly ms: number; readonly from: 'dump' | 'pg_dump' } | null;
  readonly deep: boolean;
  /** The source server's major (server_version_num / 10000): the restored copy is compared across majors when its server differs. */
  readonly serverMajor: number;
  /** Steps that failed, with the error: each makes its check fail, naming why. */
  readonly errors: Readonly<Record<string, string>>;
}

/** What `SourceFidelityCapture.begin` needs. */
export interface SourceCaptureOptions {
  /** The snapshot session (REPEATABLE READ READ ONLY, snapshot exported). */
  readonly db: DbSession;
  readonly snapshot: string;
  readonly bins: Toolchain;
  /** The source's tool environment (PG*, PGOPTIONS read-only). */
  readonly env: Readonly<Record<string, string>>;
  /** Directory for the schema-only dump (created). */
  readonly dir: string;
  readonly lockWaitTimeoutMs: number;
  /** `--deep`: large objects compared too (their hashes come from the dump: `withDumpSide`). Default false. */
  readonly deep?: boolean;
  /** The round trip's source side will come from the dump (schema-from-dump.ts): no schema-only pg_dump. Default false. */
  readonly schemaFromDump?: boolean;
  /** `source.witness: hashes`: every table's rows hashed by the source server in the snapshot. Default false. */
  readonly witnessHashes?: boolean;
  /** The source's audit: the schema-only pg_dump is recorded in it. */
  readonly audit: AuditEntry[];
  readonly signal?: AbortSignal;
}

/** Capture on the source, in two phases around pg_dump (see the module comment). */
export class SourceFidelityCapture {
  private readonly errors: Record<string, string> = {};
  private extensions: ExtensionVersion[] | null = null;
  private sequences: SequencePosition[] | null = null;
  private schemaP: Promise<SourceFidelity['schemaDump']> = Promise.resolve(null);
  private serverMajor = 0;
  private step = 0;
  private dumpSession: DumpSessionSettings | null = null;

  private constructor(private readonly o: SourceCaptureOptions) {}

  /** Phase 1, before pg_dump starts. */
  static async begin(o: SourceCaptureOptions): Promise<SourceFidelityCapture> {
    const c = new SourceFidelityCapture(o);
    // Before the session's own SETs: what pg_dump's session (same role, same database) prints COPY text with.
    c.dumpSession = await c.guarded('dump_session', () => readDumpSessionSettings(o.db));
    await c.guarded('session', () => prepareFidelitySession(o.db), true);
    c.serverMajor = Math.floor(Number(await o.db.value<string>("SELECT pg_catalog.current_setting('server_version_num')")) / 10000);
    c.extensions = await c.guarded('extensions', () => installedExtensions(o.db));
    c.sequences = await c.guarded('sequences', () => readSequencePositions(o.db));
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    if (!o.schemaFromDump) c.startSchemaDump();
    return c;
  }

  /** The round trip's source side as a second pg_dump in the snapshot, for when the dump cannot give it. */
  private startSchemaDump(): void {
    const { o } = this;
    const path = join(o.dir, 'source-schema.sql');
    o.audit.push({
      at: new Date().toISOString(), by: 'pg_dump',
      sql: `pg_dump ${schemaDumpArgs({ snapshot: o.snapshot, lockWaitTimeoutMs: o.lockWaitTimeoutMs }).join(' ')} (schema only, for the round trip: its own REPEATABLE READ, READ ONLY transaction in snapshot ${o.snapshot}; ACCESS SHARE locks)`,
    });
    // One pg_dump for both sides of the round trip: the one that can dump the sandbox (also newer than the source).
    this.schemaP = dumpSchema({ bins: o.bins, role: o.bins.has('pg_dump', 'sandbox-dump') ? 'sandbox-dump' : 'dump', env: o.env, path, snapshot: o.snapshot, lockWaitTimeoutMs: o.lockWaitTimeoutMs, signal: o.signal })
      .then((r) => ({ path: r.path, ms: r.ms, from: 'pg_dump' as const }))
      .catch((err) => {
        if (o.signal?.aborted) throw err;
        this.errors.schema_dump = (err as Error).message;
        return null;
      });
    this.schemaP.catch(() => {});
  }

  /** Phase 2, on the same session after the counts: catalog, hashes (deep), and the schema dump's end. */
  async finish(tables: readonly TableRef[]): Promise<SourceFidelity> {
    const { db, signal } = this.o;
    const catalog = await this.guarded('catalog', () => captureCatalog(db, join(this.o.dir, SOURCE_CATALOG_FILE), signal));
    const t0 = performance.now();
    const hashed = this.o.witnessHashes ? await this.guarded('hashes', () => hashSourceTables(db, tables, signal)) : null;
    const hashesMs = Math.round(performance.now() - t0);
    const schemaDump = await this.schemaP;
    return {
      extensions: this.extensions, sequences: this.sequences, catalog, hashes: hashed?.hashes ?? null, hashFailures: hashed?.failures ?? [], largeObjects: null, hashesMs, schemaDump,
      deep: this.o.deep ?? false, witnessHashes: this.o.witnessHashes ?? false, dumpSession: this.dumpSession, serverMajor: this.serverMajor, errors: { ...this.errors },
    };
  }

  /**
   * Run one step inside a savepoint; on failure roll back to it, record the error and return null. On success the
   * step's locks are given back too (rolled back to the savepoint: the steps only read — the views' definitions lock
   * each view and what it reads, the sequence read each sequence), except for `keep` (the session's settings).
   */
  private async guarded<T>(name: string, fn: () => Promise<T>, keep = false): Promise<T | null> {
    const sp = `pgdrill_fidelity_${++this.step}`;
    const { db, signal } = this.o;
    try {
      await db.query(`SAVEPOINT ${sp}`);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.errors[name] = (err as Error).message;
      return null;
    }
    try {
      const r = await fn();
      // ROLLBACK TO keeps the savepoint open: release it too, so that later statements (the session's SETs) are not inside it.
      if (!keep) await db.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      await db.query(`RELEASE SAVEPOINT ${sp}`);
      return r;
    } catch (err) {
      if (signal?.aborted) throw err;
      this.errors[name] = (err as Error).message;
      await db.query(`ROLLBACK TO SAVEPOINT ${sp}`).catch(() => {});
      return null;
    }
  }
}

/**
 * The source's fidelity with what the dump gave (schema-from-dump.ts): the round trip's source side (unless a
 * schema-only pg_dump was taken) and the large objects, or why they could not be read (`failure`: the reading failed).
 */
export function withDumpSide(f: SourceFidelity, side: DumpSideFidelity | null, ms: number, failure?: string): SourceFidelity {
  const errors = { ...f.errors };
  if (failure && !f.schemaDump && !errors.schema_dump) errors.schema_dump = `reading the schema from the dump failed: ${failure}`;
  if (f.deep) {
    const why = failure ?? side?.largeObjectsError;
    if (why || !side?.largeObjects) errors.large_objects = `reading them from the dump failed: ${why ?? 'not read'}`;
  }
  const schemaDump = f.schemaDump ?? (side?.schemaPath ? { path: side.schemaPath, ms, from: 'dump' as const } : null);
  return { ...f, schemaDump, largeObjects: f.deep ? side?.largeObjects ?? null : null, errors };
}
