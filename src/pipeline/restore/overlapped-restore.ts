/**
 * Overlap (`backup.overlap`, default on): a drill of a large database is dominated by pg_dump and the restore, so
 * the restore runs while the dump is taken instead of after it — the drill takes about max(dump, restore).
 *
 * - The sandbox starts (initdb, start) at the beginning of the backup stage, while pg_dumpall captures the
 *   globals, the snapshot is opened and pg_dump runs. The globals' roles must exist before psql replays the dump.
 * - Plain dumps are restored from pg_dump's own stream: once the sandbox is up and measured isolated, the globals
 *   are restored, the database created and psql started behind the scan gate (src/restore/stream-restore.ts),
 *   which forwards a line only after the scanner approved it. The stream is read behind pg_dump's file
 *   (src/backup/file-follower.ts) at psql's pace; pg_dump itself runs at its own.
 * - Archives (custom, directory) get the early sandbox only: pg_restore -j needs the complete archive.
 * - When the roles could not be captured (globals off, or refused), the placeholders for them come from the dump's
 *   inventory, known only at its end: the plain dump is then restored after the dump, in the early sandbox.
 *
 * Verdicts do not change. psql's end of input is held back until the restore stage takes over (`handOver()`),
 * which the drill reaches only when pg_dump exited 0 and the trailer, self-check and hostile-content checks
 * passed; otherwise `discard()` kills psql and tears the sandbox down (with a confirmed `teardown.confirmed`
 * check), and the report says the restore did not happen, as without overlap.
 */
import { rm } from 'node:fs/promises';
import type { DumpFormat } from '../../backup/pg-dump.js';
import type { GlobalsResult } from '../../backup/globals.js';
import type { Report, RestoreError } from '../../report/model.js';
import { createDatabase, restoreGlobals, startPsqlScript, type PsqlScriptRun } from '../../restore/restore-dump.js';
import { ScanGatedFeed, type FeedTarget, type GateScanner } from '../../restore/stream-restore.js';
import type { SandboxCluster } from '../../sandbox/cluster.js';
import type { DatabaseLocale } from '../../restore/database-locale.js';
import { isolationProblems, measureIsolation } from '../../sandbox/isolation-check.js';
import { createPlaceholderTablespaces, noteTablespaces } from '../../restore/tablespaces.js';
import type { DrillContext } from '../context.js';
import { startRestoreSandbox, type PreparedRestore } from './restore-stage.js';

/** What the overlap needs to know up front. */
export interface OverlapOptions {
  readonly format: DumpFormat;
  /** Name and encoding of the database to create in the sandbox. */
  readonly database: string;
  readonly encoding: string;
  /** The locale to create it with (the source's). Default: SANDBOX_DEFAULT_LOCALE. */
  readonly locale?: DatabaseLocale | null;
  /** The source's system_identifier: psql is started only in a sandbox measured not to be it. */
  readonly sourceSystemIdentifier: string;
  /** Starts pg_dumpall (null: globals capture is off). Called at once, before pg_dump. */
  readonly captureGlobals: (() => Promise<GlobalsResult>) | null;
  /** The source's role names (read by the guard): the sandbox's superuser is named after none of them. */
  readonly sourceRoles: ReadonlySet<string>;
  /** The source's tablespaces: those the globals do not create (only roles captured) are made empty before the replay. */
  readonly sourceTablespaces: readonly string[];
  /** The source's user relations (the guard's count): the sandbox's lock table is sized for restoring them in one transaction. */
  readonly sourceRelations: number;
}

/** The early sandbox of a drill and, for plain dumps, the restore that consumes pg_dump's stream. */
export class OverlappedRestore {
  /** The globals capture, started before pg_dump (null when globals capture is off). */
  readonly globals: Promise<GlobalsResult> | null;
  /** The gate in pg_dump's stream (plain dumps, once `feed()` returned it). */
  gate: ScanGatedFeed | null = null;
  /** Why a plain dump is not restored from the stream (null when it is, or for archives). */
  notOverlapped: string | null = null;

  private readonly sandboxP: Promise<SandboxCluster>;
  private targetP: Promise<FeedTarget | null> | null = null;
  private setupError: unknown = null;
  private psql: PsqlScriptRun | null = null;
  private globalsErrors: RestoreError[] = [];
  private startedAt = 0;
  private done = false;

  private constructor(private readonly ctx: DrillContext, private readonly o: OverlapOptions) {
    this.globals = o.captureGlobals ? o.captureGlobals() : null;
    this.globals?.catch(() => {}); // awaited by the backup stage, which reports a failure
    // The sandbox's superuser must not collide with a role the globals create (their replay stops on errors):
    // it is named after none of the source's roles, so initdb runs beside pg_dumpall (restoreGlobals refuses a
    // script that creates it anyway, should a role of that name appear in between).
    this.sandboxP = startRestoreSandbox(ctx, o.sourceRoles, o.sourceRelations);
    this.sandboxP.catch(() => {}); // reported by the restore stage (handOver) or ignored by discard()
  }

  /** Start the sandbox and the globals capture now, at the beginning of the backup stage. */
  static begin(ctx: DrillContext, o: OverlapOptions): OverlappedRestore {
    return new OverlappedRestore(ctx, o);
  }

  /**
   * The gate to put into pg_dump's stream (`takeDump`'s `through`), or null when the dump is not restored from
   * the stream (archives; roles not captured). Waits for the globals capture.
   */
  async feed(scanner: GateScanner): Promise<ScanGatedFeed | null> {
    if (this.o.format !== 'plain') return null;
    const globals = this.globals ? await this.globals : null;
    this.ctx.logger.debug(`globals captured (${globals?.mode ?? 'off'})`);
    if (!globals || globals.mode === 'none' || !globals.path) {
      this.notOverlapped = 'roles were not captured: their placeholders come from the dump\'s inventory, so the plain dump is restored after it';
      this.ctx.builder.note('overlap', `restore not overlapped with the dump: ${this.notOverlapped} (the sandbox still started during the dump)`);
      return null;
    }
    this.targetP = this.startPsql(globals.path);
    this.targetP.catch(() => {});
    this.gate = new ScanGatedFeed({ scanner, target: this.targetP });
    const gate = this.gate;
    gate.on('end', () => this.ctx.logger.info(`dump stream complete: ${gate.forwardedBytes} bytes forwarded to psql${gate.stopped ? ` (feeding stopped: ${gate.stopped})` : '; its end of input waits for the checks that precede a restore'}`));
    this.ctx.builder.note('overlap', 'the plain dump was restored from pg_dump\'s stream as it was written (backup.overlap), each line only after the scanner approved it; pg_dump wrote the file at its own pace and psql read the very chunks that were read behind it and hashed, so the SHA256SUMS self-check proves the restored bytes are the stored ones. The backup stage holds most of the restore\'s time');
    return this.gate;
  }

  /**
   * Hand the sandbox (and the restore under way) to the restore stage. For an overlapped plain restore, its
   * `restored()` releases psql's end of input, waits for psql and returns every error of the globals and the dump.
   */
  handOver(): PreparedRestore {
    this.done = true;
    const gate = this.gate;
    return {
      sandbox: () => this.sandboxP,
      restored: gate
        ? async () => {
            const target = await this.targetP;
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the setup threw, rethrown as it was
            if (this.setupError) throw this.setupError;
            if (!target || !this.psql) return { errors: this.globalsErrors, durationMs: 0 };
            gate.release();
            const r = await this.psql.result;
            this.ctx.logger.info(`overlapped restore: psql exited ${r.exitCode} with ${r.errors.length} error(s), ${Math.round(performance.now() - this.startedAt)} ms after it started`);
            return { errors: [...this.globalsErrors, ...r.errors], durationMs: Math.round(performance.now() - this.startedAt) };
          }
        : undefined,
      abandon: () => {
        gate?.stop('discarded');
        this.psql?.child.kill('SIGKILL');
      },
    };
  }

  /**
   * The drill will not restore (an earlier check failed, or it ended early): stop psql dead, tear the sandbox
   * down and record the teardown (`teardown.confirmed`); returns the report's `teardown` section (null: no
   * sandbox was started, nothing torn down). Without a dump
   * (`dumpTaken` false) the globals captured ahead of it are removed too: a failed backup leaves no file behind,
   * as without overlap. A no-op after `handOver()`.
   */
  async discard(why: string, opts: { readonly dumpTaken: boolean }): Promise<Report['teardown'] | null> {
    if (this.done) return null;
    this.done = true;
    const b = this.ctx.builder;
    this.gate?.stop('discarded');
    this.psql?.child.kill('SIGKILL');
    const sandbox = await this.sandboxP.catch(() => null);
    // The replay's setup (it reads the globals file) has ended before the file goes.
    await this.targetP?.catch(() => null);
    this.psql?.child.kill('SIGKILL'); // started while we waited
    await this.psql?.result.catch(() => null);
    if (!opts.dumpTaken) {
      const g = await this.globals?.catch(() => null);
      if (g?.path) await rm(g.path, { force: true });
    }
    if (!sandbox) return null; // never started: nothing to tear down, and the report already says so
    const td = await sandbox.stop();
    const fed = this.gate && this.psql ? `; psql had read ${this.gate.forwardedBytes} scanned and approved bytes and was stopped (${this.gate.stopped ?? 'discarded'})` : '';
    b.note('overlap-discarded', `the sandbox started during the dump was torn down without a restore verdict: ${why}${fed}`);
    await b.stage('teardown', async () => {
      b.expect('teardown.confirmed', 'teardown', td.confirmed, td.detail, td.detail, { ...td });
    }, () => false);
    return { confirmed: td.confirmed, detail: td.detail, postmaster_pid: td.postmasterPid };
  }

  /** Once the sandbox is up and isolated: globals, database, then psql reading from the gate. */
  private async startPsql(globalsPath: string): Promise<FeedTarget | null> {
    try {
      const { bins, signal } = this.ctx;
      const sandbox = await this.sandboxP;
      // In template1: a drill of `postgres` may have to replace initdb's own (createDatabase), which nobody may be in then.
      await using db = await sandbox.open('template1', signal);
      // Measured as the restore stage will measure it (and report it): never replay a line into production.
      if (isolationProblems(await measureIsolation(db, this.o.sourceSystemIdentifier)).length) return null;
      if (this.gate?.stopped) return null; // discarded (or refused) while the sandbox started
      this.startedAt = performance.now();
      this.ctx.logger.debug('overlapped restore: sandbox measured isolated; restoring the globals and creating the database');
      // The database depends on no role (the sandbox superuser owns it): it is created on this session while psql
      // restores the globals, which saves a connection and a wait on a machine that pg_dump keeps busy.
      const create = () => createDatabase(sandbox, this.o.database, this.o.encoding, db, this.o.locale);
      const globalsRestored = () => restoreGlobals(sandbox, bins, globalsPath, signal);
      // psql restores the globals in `postgres`: a drill of `postgres` creates it first (it may replace initdb's).
      const [globals, created] = this.o.database === 'postgres'
        ? await Promise.allSettled([create()]).then(async ([c]) => [(await Promise.allSettled([globalsRestored()]))[0], c] as const)
        : await Promise.allSettled([globalsRestored(), create()]);
      if (globals.status === 'rejected') throw globals.reason;
      if (created.status === 'rejected') throw created.reason;
      this.globalsErrors = globals.value.errors;
      noteTablespaces(this.ctx.builder, { moved: globals.value.tablespaces, placeholders: await createPlaceholderTablespaces(sandbox, this.o.sourceTablespaces) });
      this.ctx.logger.debug('overlapped restore: globals restored, database created');
      // The gate writes psql's stdin itself (bounded: it waits for psql beyond a few MiB, and pg_dump waits for it).
      const psql = (this.psql = startPsqlScript(sandbox, bins, this.o.database, 'pipe', { phase: 'dump', singleTransaction: true, signal }));
      this.ctx.logger.info(`overlapped restore: psql (pid ${psql.child.pid}) replays the dump into ${this.o.database} as pg_dump writes it`);
      return { stdin: psql.stdin!, kill: () => void psql.child.kill('SIGKILL'), exited: psql.result };
    } catch (err) {
      this.setupError = err;
      return null;
    }
  }
}
