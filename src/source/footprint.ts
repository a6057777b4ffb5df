/**
 * The production footprint of a drill: what it cost the source, beside what pg_dump alone costs.
 *
 * - **CPU per session**, where the source's server runs on this host and pgdrill may read /proc: every backend of
 *   the drill — pgdrill's own sessions (their pids are in the audit), and pg_dump's and pg_dumpall's (found in
 *   pg_stat_activity by application_name `pgdrill` while they run) — is read from /proc/PID/stat (utime + stime)
 *   every `sampleMs` until it ends. pg_dump's session(s) seen running COPY (their process title) are "pg_dump alone".
 * - **What was read**, from the source's own statistics: pg_stat_statements when installed and readable (the drill
 *   role's statements in the drill's database, grouped: pg_dump's COPY, pgdrill's counts and hashes, the rest), and
 *   pg_stat_database for the whole database (every session's, labelled so).
 *
 * One more read-only session on the source, from the guard until pg_dump's sessions have ended (`stopSession`, called
 * by the backup stage: also under backup.overlap, where the restore goes on after pg_dump) — never idle through the
 * restore and the fidelity checks; the /proc readings of pgdrill's later sessions (the proof) need no session and go
 * on until `finish`. Its queries are in the audit like every other. Nothing is installed, reset or written. A failure here never fails the drill: the footprint says what is missing.
 */
import { DbSession, onSessionClose, type AuditEntry, type ConnectionConfig } from '../pg/client.js';
import type { Logger } from '../logger.js';
import type { Footprint } from '../report/footprint-model.js';
import { bootTimeSeconds, readProcCpu, readProcTitle, whyBackendNotReadable, type ProcCpu } from './proc-cpu.js';
import {
  databaseDelta, locateStatements, readDatabaseCounters, readStatements, statementDeltas,
  type DatabaseCounters, type StatementsReading, type StatementsSource,
} from './footprint-stats.js';

/** What `FootprintMeter.start` needs. */
export interface FootprintMeterOptions {
  readonly connection: ConnectionConfig;
  /** The source's audit: pgdrill's sessions are found by the pids in it, and the meter's statements go into it. */
  readonly audit: AuditEntry[];
  readonly logger: Logger;
  /** Look for pg_dump's and pg_dumpall's sessions (`run`); `verify --source` runs none. Default true. */
  readonly tools?: boolean;
  /** Interval of the /proc readings. Default 100 ms. */
  readonly sampleMs?: number;
  /** Each pgdrill session's backend read as it closed (`readSessionsAtClose`): the guard's, before the meter began, too. */
  readonly atClose?: ReadonlyMap<number, ProcCpu>;
}

/**
 * From now on, every session recording into `audit` has its backend's /proc/PID/stat read right before it closes
 * (the first close only). The meter counts these readings — a session shorter than its interval (the proof), or one
 * that ended before it began (the guard's), counts whole — once it knows the source's backends are this host's.
 */
export function readSessionsAtClose(audit: AuditEntry[]): ReadonlyMap<number, ProcCpu> {
  const readings = new Map<number, ProcCpu>();
  onSessionClose(audit, (pid) => {
    const r = readProcCpu(pid);
    if (r && !readings.has(pid)) readings.set(pid, r);
  });
  return readings;
}

/** Sessions of the drill's tools on the source: pgdrill's application_name, its role and database, not pgdrill's own. */
const TOOL_SESSIONS_SQL = `SELECT pid, query ~* '^\\s*COPY ' AS copying FROM pg_stat_activity
 WHERE application_name = 'pgdrill' AND usename = current_user AND datname = current_database() AND pid <> ALL ($1::int[])`;

interface Seen { startTicks: number; cpuMs: number; copied: boolean }

/** The longest wait between two looks for the tools' sessions (each look is one statement in the audit). */
const TOOL_LOOK_MAX_MS = 2000;
/** The wait between two looks until a started tool's session is found, for at most FAST_LOOK_FOR_MS. */
const FAST_LOOK_MS = 20;
const FAST_LOOK_FOR_MS = 2000;

/** Measures a drill's sessions on the source from `start` to `finish`. Dispose closes its session. */
export class FootprintMeter implements AsyncDisposable {
  private readonly seen = new Map<number, Seen>();
  private readonly tools = new Set<number>();
  /** Tool sessions pg_stat_activity showed running a COPY. */
  private readonly copying = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private lookTimer: NodeJS.Timeout | null = null;
  private lookDelay = FAST_LOOK_MS;
  private watchedAt = 0;
  private looking = false;
  private done = false;
  /** Tool runs in the audit when last sampled. */
  private toolRuns = 0;
  /** Tool sessions found since the last `watchTools`. */
  private foundSince = 0;
  private closed = false;
  /** The after-readings taken by `stopSession` (null until then). */
  private after: { statements: Footprint['statements']; database: Footprint['database'] } | null = null;

  private constructor(
    private readonly o: FootprintMeterOptions,
    private readonly db: DbSession,
    private readonly ownPid: number,
    private readonly cpuWhyNot: string | null,
    private readonly statements: StatementsSource,
    private readonly statementsBefore: StatementsReading | null,
    private readonly dbBefore: DatabaseCounters,
    private readonly blockSize: number,
  ) {}

  /** Open the meter's session and take the "before" readings; null (logged) when the source does not let it. */
  static async start(o: FootprintMeterOptions): Promise<FootprintMeter | null> {
    let db: DbSession | null = null;
    try {
      db = await DbSession.open(o.connection, { audit: o.audit });
      const [me] = await db.query<{ pid: number; started: number }>('SELECT pid, extract(epoch FROM backend_start)::float8 AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      const why = me ? whyBackendNotReadable(me.pid, me.started) : 'pg_stat_activity does not show the session';
      const statements = await locateStatements(db);
      const before = 'schema' in statements ? await readStatements(db, statements) : null;
      const blockSize = Number(await db.value<string>('SHOW block_size'));
      const meter = new FootprintMeter(o, db, me?.pid ?? 0, why, statements, before, await readDatabaseCounters(db), blockSize);
      if (!why) meter.timer = setInterval(() => meter.sample(), o.sampleMs ?? 100).unref();
      return meter;
    } catch (err) {
      await db?.close();
      o.logger.warn(`production footprint not measured: ${(err as Error).message}`);
      return null;
    }
  }

  /**
   * A tool (pg_dump) was just started: look for its session now, then every FAST_LOOK_MS until one is found (a small
   * database's pg_dump lives a few hundred milliseconds, its session less), then at growing intervals while tool
   * sessions are there (or, when none came, until the interval is the longest). Called by the backup stage right
   * after it starts pg_dump, and by the sampler when the audit shows a new tool run.
   */
  watchTools(): void {
    if (this.cpuWhyNot || this.done || this.o.tools === false) return;
    this.lookDelay = FAST_LOOK_MS;
    this.foundSince = 0;
    this.watchedAt = Date.now();
    this.toolRuns = this.o.audit.filter((a) => a.by !== 'pgdrill').length;
    this.lookIn(0);
  }

  /** The next look for the tools' sessions, in `ms` (one timer: a later call replaces an earlier one). */
  private lookIn(ms: number): void {
    if (this.lookTimer) clearTimeout(this.lookTimer);
    this.lookTimer = setTimeout(() => void this.look(), ms).unref();
  }

  /** The tools have ended: no more looks for their sessions. */
  toolsDone(): void {
    this.done = true;
    if (this.lookTimer) clearTimeout(this.lookTimer);
    this.sample();
  }

  private async look(): Promise<void> {
    if (this.done) return;
    if (this.looking) {
      // A look is on its way (the sampler's or a previous timer's): this one comes right after it.
      this.lookIn(FAST_LOOK_MS);
      return;
    }
    this.looking = true;
    try {
      const rows = await this.db.query<{ pid: number; copying: boolean }>(TOOL_SESSIONS_SQL, [[this.ownPid, ...this.pgdrillPids()]]);
      for (const r of rows) {
        this.tools.add(r.pid);
        if (r.copying) this.copying.add(r.pid);
      }
      this.foundSince += rows.length;
      this.sample();
      // The tools have ended (or none came while looking ever less often): no more looks until the next one starts.
      if (!rows.length && (this.foundSince > 0 || this.lookDelay >= TOOL_LOOK_MAX_MS)) return;
    } catch (err) {
      this.o.logger.debug(`footprint: looking for pg_dump's sessions failed: ${(err as Error).message}`);
      return;
    } finally {
      this.looking = false;
    }
    if (this.done) return;
    const fast = this.foundSince === 0 && Date.now() - this.watchedAt < FAST_LOOK_FOR_MS;
    this.lookDelay = fast ? FAST_LOOK_MS : Math.min(Math.max(this.lookDelay * 2, 50), TOOL_LOOK_MAX_MS);
    this.lookIn(this.lookDelay);
  }

  private pgdrillPids(): number[] {
    return [...new Set(this.o.audit.flatMap((a) => (a.by === 'pgdrill' && a.pid ? [a.pid] : [])))];
  }

  /** Read every known backend's CPU; a pid whose process started at another tick is another process now. */
  private sample(): void {
    if (this.cpuWhyNot) return;
    // A tool started since (pg_dump, pg_dumpall: the callers audit each run): look for its session.
    const tools = this.o.audit.filter((a) => a.by !== 'pgdrill').length;
    if (tools > this.toolRuns) {
      this.toolRuns = tools;
      this.watchTools();
    }
    for (const pid of new Set([this.ownPid, ...this.pgdrillPids(), ...this.tools])) {
      const stat = readProcCpu(pid);
      const prev = this.seen.get(pid);
      if (!stat || stat.comm !== 'postgres' || (prev && prev.startTicks !== stat.startTicks)) continue;
      const copied = (prev?.copied ?? false) || this.copying.has(pid) || (this.tools.has(pid) && /\bCOPY\b/.test(readProcTitle(pid) ?? ''));
      this.seen.set(pid, { startTicks: stat.startTicks, cpuMs: stat.cpuMs, copied });
    }
    this.takeClosingReadings();
  }

  /**
   * The readings of pgdrill's sessions as they closed (`atClose`). One of a session the sampler saw counts when it is
   * the same process (start time) and later; one it never saw (the guard's, closed before the meter began) when the
   * process is a `postgres` that started within a minute before the session's first statement and no later than it.
   */
  private takeClosingReadings(): void {
    let boot: number | null | undefined;
    for (const [pid, r] of this.o.atClose ?? []) {
      const prev = this.seen.get(pid);
      if (r.comm !== 'postgres') continue;
      if (prev) {
        if (prev.startTicks === r.startTicks && r.cpuMs > prev.cpuMs) this.seen.set(pid, { ...prev, cpuMs: r.cpuMs });
        continue;
      }
      const first = this.o.audit.find((a) => a.by === 'pgdrill' && a.pid === pid);
      if (boot === undefined) boot = bootTimeSeconds(); // read only when a session the sampler never saw needs it
      if (!first || boot === null) continue;
      const startedMs = (boot + r.startTicks / 100) * 1000;
      const firstMs = Date.parse(first.at);
      if (startedMs <= firstMs + 1000 && startedMs >= firstMs - 60_000) this.seen.set(pid, { startTicks: r.startTicks, cpuMs: r.cpuMs, copied: false });
    }
  }

  /**
   * pg_dump's and pg_dumpall's sessions have ended: the "after" readings of the statistics, and the meter's session
   * closed. The CPU of pgdrill's own later sessions is still read from /proc until `finish`. Never throws.
   */
  async stopSession(): Promise<void> {
    if (this.after || this.closed) return;
    this.toolsDone();
    this.after = await this.readAfter();
  }

  /** The footprint (after `stopSession`, which it calls when not called yet). Never throws (a failure is in the text). */
  async finish(): Promise<Footprint> {
    await this.stopSession();
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const after = this.after ?? { statements: { available: false, detail: 'not read: the meter\'s session was closed', groups: [] }, database: null };
    return this.assemble(after.statements, after.database);
  }

  private async readAfter(): Promise<{ statements: Footprint['statements']; database: Footprint['database'] }> {
    let statements: Footprint['statements'];
    let database: Footprint['database'] = null;
    try {
      statements = 'schema' in this.statements && this.statementsBefore
        ? { available: true, detail: `pg_stat_statements (schema ${this.statements.schema}): the drill role's statements in this database, from the guard until pg_dump ended`, groups: statementDeltas(this.statementsBefore, await readStatements(this.db, this.statements)).map((g) => ({ group: g.group, label: g.label, ...g.counters })) }
        : { available: false, detail: 'unavailable' in this.statements ? this.statements.unavailable : 'not read', groups: [] };
      const d = databaseDelta(this.dbBefore, await readDatabaseCounters(this.db));
      database = { scope: 'the whole database, every session from the guard until pg_dump ended (not only the drill\'s)', ...d, bytes_read: d.blks_read * this.blockSize };
    } catch (err) {
      statements = { available: false, detail: `the after-reading failed: ${(err as Error).message}`, groups: [] };
    } finally {
      await this.close();
    }
    return { statements, database };
  }

  private assemble(statements: Footprint['statements'], database: Footprint['database']): Footprint {
    const mine = this.pgdrillPids();
    const snapshot = new Set(this.o.audit.filter((a) => /pg_export_snapshot\(\)/.test(a.sql)).map((a) => a.pid));
    const sessions: Footprint['sessions'] = [
      ...[...new Set([...mine, this.ownPid])].map((pid) => ({
        pid, by: 'pgdrill' as const, cpu_ms: this.cpuOf(pid),
        what: pid === this.ownPid ? 'this measurement' : snapshot.has(pid) ? 'the dump snapshot: catalog, exact counts, fidelity capture' : 'catalog reads (guard, lock watch, proof, source now)',
      })),
      ...this.toolSessions(mine),
    ];
    const sum = (list: Footprint['sessions']) => (list.length && list.every((s) => s.cpu_ms !== null) ? list.reduce((a, s) => a + s.cpu_ms!, 0) : null);
    const measured = sessions.filter((s) => s.cpu_ms !== null);
    const drill = this.cpuWhyNot ? null : measured.reduce((a, s) => a + s.cpu_ms!, 0);
    const pgDump = this.cpuWhyNot ? null : sum(sessions.filter((s) => s.by === 'pg_dump' && s.what.startsWith('pg_dump alone')));
    const ratio = drill !== null && pgDump ? Math.round((drill / pgDump) * 100) / 100 : null;
    const sampleMs = this.o.sampleMs ?? 100;
    const cpu: Footprint['cpu'] = {
      measurable: !this.cpuWhyNot, sample_ms: sampleMs, drill_ms: drill, pg_dump_ms: pgDump, ratio_to_pg_dump: ratio,
      detail: this.cpuWhyNot
        ? `not measurable: ${this.cpuWhyNot}`
        : `utime + stime of each backend from /proc/PID/stat every ${sampleMs} ms, and of each pgdrill session as it closed (pg_dump's and pg_dumpall's last interval is not counted; ${sessions.length - measured.length} session(s) not read)`,
    };
    return { summary: summaryOf(cpu, statements, database), cpu, sessions, statements, database };
  }

  /**
   * pg_dump's and pg_dumpall's sessions. The one(s) seen copying are pg_dump's data dump; when a dump was too short for
   * any look to see its COPY, the busiest session is taken for it, and says so.
   */
  private toolSessions(mine: readonly number[]): Footprint['sessions'] {
    const pids = [...this.tools].filter((pid) => !mine.includes(pid));
    const busiest = pids.some((pid) => this.seen.get(pid)?.copied) ? null : pids.reduce<number | null>((b, pid) => ((this.cpuOf(pid) ?? -1) > (b === null ? -1 : this.cpuOf(b) ?? -1) ? pid : b), null);
    return pids.map((pid) => ({
      pid, by: 'pg_dump' as const, cpu_ms: this.cpuOf(pid),
      what: this.seen.get(pid)?.copied ? 'pg_dump alone: copying the data'
        : pid === busiest ? 'pg_dump alone, taken to be its busiest session (the dump was too short to see its COPY)'
          : 'pg_dump or pg_dumpall, no COPY seen (the round trip\'s schema-only dump, or the globals)',
    }));
  }

  private cpuOf(pid: number): number | null {
    const s = this.seen.get(pid);
    return this.cpuWhyNot || !s ? null : s.cpuMs;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.toolsDone();
    if (this.timer) clearInterval(this.timer);
    await this.close();
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The footprint in one line: CPU against pg_dump alone where measured, else what the statistics say. */
export function summaryOf(cpu: Footprint['cpu'], st: Footprint['statements'], database: Footprint['database']): string {
  const parts: string[] = [];
  if (cpu.drill_ms !== null) {
    parts.push(cpu.pg_dump_ms ? `source CPU of the drill ${secs(cpu.drill_ms)}, of pg_dump alone ${secs(cpu.pg_dump_ms)} (${cpu.ratio_to_pg_dump}×)` : `source CPU of the drill ${secs(cpu.drill_ms)} (pg_dump's copying session not seen)`);
  } else parts.push(`source CPU ${cpu.detail}`);
  if (st.available) {
    const g = (k: string) => st.groups.find((x) => x.group === k);
    const blocks = (k: string) => (g(k)?.shared_blks_read ?? 0) + (g(k)?.shared_blks_hit ?? 0);
    parts.push(`pg_stat_statements: pg_dump's COPY ${g('copy')?.rows ?? 0} rows (${blocks('copy')} blocks), pgdrill's counts and hashes ${g('scans')?.calls ?? 0} statements (${blocks('scans')} blocks)`);
  } else if (database) {
    parts.push(`whole database (every session): ${database.tup_returned} rows returned, ${database.bytes_read} bytes read`);
  }
  return parts.join('; ');
}
