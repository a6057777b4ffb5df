/**
 * The throwaway cluster: initdb (or a copy of a cached initdb: initdb-template.ts) into a private directory, a Unix socket in a private 0700 directory and no TCP
 * (`listen_addresses = ''`), durability off (it is thrown away). An AsyncDisposable: disposing it stops the
 * server, deletes its files and confirms both; `stop()` returns that confirmation as data for the report.
 */
import { chmod, mkdir, mkdtemp, readdir, realpath, rm, appendFile, writeFile } from 'node:fs/promises';
import { readForeignText } from '../exec/input-file.js';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { EnvironmentError, ToolError } from '../errors.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import type { OsUser } from '../exec/os-user.js';
import { runProcess } from '../exec/run-process.js';
import { DbSession, type ConnectionConfig } from '../pg/client.js';
import type { Logger } from '../logger.js';
import { registerSandbox, unregisterSandbox } from './registry.js';
import { jailedCommand, resolveJail, type Jail, type JailedCommand, type JailView } from './jail.js';
import { SANDBOX_MARKER, writeMarker } from './marker.js';
import { dropSandboxRecord, recordSandbox, updateSandboxRecord, type StoredRecord } from './sandbox-records.js';
import { createDataDir, dropTemplate, pruneTemplates, templateCacheDir, templatePath, type DataDirOrigin } from './initdb-template.js';
import { SpareRefill } from './template-spare.js';
import { notThePostmaster, processIdentity } from './process-identity.js';
import { removeTree } from '../exec/remove-tree.js';
import { pathExists as exists } from '../exec/path-exists.js';
import { processAlive, processStartTicks } from '../exec/process-liveness.js';
import { handOver } from '../exec/hand-over.js';

/** How to create a sandbox. */
export interface SandboxOptions {
  readonly bins: Toolchain;
  /** Parent directory; the cluster goes into `<parent>/sandbox`. Falls back to the system temp directory when the OS user cannot reach it. */
  readonly parentDir: string;
  /** OS user that runs initdb/postgres; null = the caller. */
  readonly osUser: OsUser | null;
  readonly logger: Logger;
  /** Superuser created by initdb. Default 'pgdrill'. */
  readonly superuser?: string;
  /** Extra postgresql.conf settings. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Label for messages ("sandbox", "demo source"). */
  readonly label?: string;
  /**
   * Run the server in a network namespace of its own (see jail.ts), where available. Default true. False shares
   * the host's network: only tests use it, to prove that the namespace is what blocks a connection.
   */
  readonly network?: boolean;
  /**
   * Host directories the sandbox's programs may also write in a bwrap jail, beside its own. Default none: only tests
   * use it, to show that a payload fires when nothing refuses it.
   */
  readonly shared?: readonly string[];
  /**
   * Directory of the initdb template cache (src/sandbox/initdb-template.ts); null: always initdb. Default:
   * PGDRILL_CACHE_DIR, else ~/.cache/pgdrill (used only as root with a dedicated OS user).
   */
  readonly templateCache?: string | null;
  /**
   * Take the template's spare copy and make the next one while the sandbox runs (template-spare.ts): for sandboxes
   * on a drill's critical path. Default false.
   */
  readonly spare?: boolean;
  /**
   * pgdrill's state directory, where the sandbox is recorded while it exists (sandbox-records.ts). Default:
   * PGDRILL_STATE_DIR, else /var/lib/pgdrill as root, else ~/.local/state/pgdrill (state-dir.ts).
   */
  readonly stateDir?: string;
  /**
   * Fill the data directory instead of initdb (a physical backup restored into it: src/physical/). Called with the
   * data directory (not yet existing) and the jail's command builder; it may name the superuser to connect as (a
   * restored cluster's own). Default: initdb or the template.
   */
  readonly populate?: (dataDir: string, jailed: (bin: string, args: readonly string[]) => JailedCommand) => Promise<{ readonly superuser?: string }>;
  /**
   * Seconds `pg_ctl start -w` waits for the server. Default 60. A restored physical backup is "started" only once its
   * recovery has begun (hot_standby off), which its caller may allow far longer to reach.
   */
  readonly startTimeoutSeconds?: number;
  /**
   * Called with the server log's path when the server was launched but the start failed (pg_ctl's error, or the
   * postmaster gone once pg_ctl returned), before the sandbox and its log are removed: a recovering server's whole
   * log says why, where the error's tail may not (src/physical/recover.ts). Its own errors are ignored.
   */
  readonly onFailedStart?: (logFile: string) => Promise<void>;
}

/** Called once `pg_ctl start` has returned, before the postmaster's pid is read (tests that force a server to exit then). */
let afterStartForTests: ((dataDir: string) => Promise<void>) | null = null;

/** Tests only: run `hook` after every sandbox's `pg_ctl start` returns (null: none). */
export function setAfterStartForTests(hook: ((dataDir: string) => Promise<void>) | null): void {
  afterStartForTests = hook;
}

/** What teardown found: the report's evidence that nothing is left. */
export interface TeardownResult {
  readonly confirmed: boolean;
  readonly postmasterPid: number | null;
  readonly processGone: boolean;
  readonly dataDirGone: boolean;
  readonly socketDirGone: boolean;
  readonly detail: string;
}

const PORT = 5432;

/** How the log names a data directory's origin. */
const ORIGIN: Record<DataDirOrigin | 'restored', string> = { spare: 'the initdb template (its spare copy)', template: 'the initdb template', initdb: 'initdb', restored: 'a restored physical backup' };

/** Can `user` create files in `dir` (every ancestor searchable)? Tested by asking the kernel as that user. */
async function writableBy(dir: string, user: OsUser | null): Promise<boolean> {
  if (!user) return true;
  const r = await runProcess({ bin: '/usr/bin/test', args: ['-w', dir, '-a', '-x', dir], uid: user.uid, gid: user.gid, allowFailure: true });
  return r.exitCode === 0;
}

/**
 * The sandbox's own directory under parentDir, owned by its OS user; in the temp directory instead when the OS user
 * cannot reach parentDir (placementNote then says so).
 */
/**
 * The server's files — its log, postmaster.pid — lie in directories its OS user owns, who could put a link to a
 * root-only file, a FIFO or a device there: they are read as `readForeignText` reads (src/exec/input-file.ts), only
 * when they belong to that user (or pgdrill's own), and only as much as is shown.
 */
export function serverFileOwners(user: OsUser | null): readonly number[] {
  // Only the server's user, not root as well: a hard link to a root-only file is owned by root.
  return [user?.uid ?? process.geteuid?.() ?? 0];
}

/** A postmaster.pid is a few short lines (PostgreSQL's own reader stops at 8 kB). */
const MAX_PID_FILE = 8192;

/** The last 4000 characters shown of a log in an error: read as the last 16 kB of a file of the server's user. */
function readServerLogTail(logFile: string, user: OsUser | null): Promise<string | null> {
  return readForeignText(logFile, { maxBytes: 16_384, part: 'tail', owners: serverFileOwners(user) });
}

async function makeRootDir(parentDir: string, label: string, user: OsUser | null): Promise<{ rootDir: string; placementNote: string | null }> {
  await mkdir(parentDir, { recursive: true });
  const prefix = `${label.replace(/\W+/g, '-')}-`;
  const rootDir = await mkdtemp(join(parentDir, prefix));
  await handOver(rootDir, user);
  if (await writableBy(rootDir, user)) return { rootDir, placementNote: null };
  // An ancestor is not searchable by the OS user — a run directory (0700, pgdrill's own), /root: use the temp
  // directory instead (the sandbox's own directory there is 0700 and the sandbox user's).
  await rm(rootDir, { recursive: true, force: true });
  const tmpRoot = await mkdtemp(join(tmpdir(), prefix));
  return { rootDir: tmpRoot, placementNote: `${parentDir} is private (OS user ${user?.name} cannot reach it); the ${label} was created in ${tmpRoot}` };
}

/** The lines appended to the sandbox's postgresql.conf: Unix socket only, durability off, then the caller's settings. */
function sandboxConf(socketDir: string, extra: Readonly<Record<string, string>> | undefined): string {
  const settings: Record<string, string> = {
    listen_addresses: "''",
    unix_socket_directories: `'${socketDir}'`,
    unix_socket_permissions: '0700',
    port: String(PORT),
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_wal_size: "'4GB'",
    checkpoint_timeout: "'30min'",
    logging_collector: 'off',
    ...extra,
  };
  return '\n# pgdrill sandbox\n' + Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

/** A running throwaway cluster. */
export class SandboxCluster implements AsyncDisposable {
  private stopped: TeardownResult | null = null;
  private pid: number | null = null;
  /** The postmaster's start time, so that teardown never signals a process that merely reuses its pid. */
  private pidStartTicks: number | null = null;
  /** False when /proc did not show `pid` to be this sandbox's postmaster: then it is never signalled. */
  private pidTrusted = true;
  /** This sandbox's record in the state directory (sandbox-records.ts), dropped once teardown is confirmed. */
  private record: StoredRecord | null = null;

  private constructor(
    readonly rootDir: string,
    readonly dataDir: string,
    readonly socketDir: string,
    readonly logFile: string,
    public superuser: string,
    readonly osUser: OsUser | null,
    private readonly bins: Toolchain,
    private readonly logger: Logger,
    readonly label: string,
    /** Why the cluster is not inside the run directory, if it is not. */
    readonly placementNote: string | null,
    /** The OS user and network namespace the server runs in. */
    readonly jail: Jail,
    /** What the sandbox's programs see in a bwrap jail: its own directories, a passwd naming its user. */
    private readonly view: JailView,
  ) {}

  readonly port = PORT;

  /** Who may own the files the server writes (its log, postmaster.pid): its OS user (pgdrill's own when it runs as the caller). */
  get serverFileOwners(): readonly number[] {
    return serverFileOwners(this.osUser);
  }
  /** Where the data directory came from: the template's spare copy, a copy of the cached initdb template, or initdb. */
  dataDirFrom: DataDirOrigin | 'restored' = 'initdb';
  /** The copy making the template's next spare (`spare` option), ended by `stop()`. */
  private refill: SpareRefill | null = null;

  /**
   * initdb and start a cluster. On any failure after initdb the files are removed again.
   * @throws EnvironmentError with the cluster log's tail when it will not start.
   */
  static async start(opts: SandboxOptions): Promise<SandboxCluster> {
    const label = opts.label ?? 'sandbox';
    const user = opts.osUser;
    const { rootDir, placementNote } = await makeRootDir(opts.parentDir, label, user);
    // Unix socket paths are limited to ~107 bytes, so the socket lives in a short private directory.
    const socketDir = await mkdtemp(join(tmpdir(), 'pgdrill-sock-'));
    const dataDir = join(rootDir, 'data');
    const logFile = join(rootDir, 'postgres.log');
    const superuser = opts.superuser ?? 'pgdrill';
    const jail = await resolveJail(user, { network: opts.network });
    const view: JailView = jail.mountNamespace ? { rw: [rootDir, socketDir, ...(opts.shared ?? [])], passwd: join(rootDir, 'jail', 'passwd'), group: join(rootDir, 'jail', 'group') } : {};
    const cluster = new SandboxCluster(rootDir, dataDir, socketDir, logFile, superuser, user, opts.bins, opts.logger, label, placementNote, jail, view);
    registerSandbox(cluster);
    let launched = false;
    try {
      // Recorded before anything runs in its directories: `pgdrill cleanup` acts on nothing it cannot find there.
      const realRoot = await realpath(rootDir);
      cluster.record = await recordSandbox(opts.stateDir, {
        label, pgdrill_pid: process.pid, pgdrill_start_ticks: processStartTicks(process.pid), root_dir: realRoot,
        data_dir: join(realRoot, 'data'), socket_dir: await realpath(socketDir), server_uid: user?.uid ?? process.geteuid?.() ?? 0,
      });
      await writeMarker(rootDir, { kind: label, pgdrillPid: process.pid, socketDir, dataDir, createdAt: new Date().toISOString() });
      for (const d of [rootDir, socketDir]) {
        await chmod(d, 0o700);
        await handOver(d, user);
      }
      if (jail.mountNamespace) await writeJailIdentity(join(rootDir, 'jail'), user);
      const cacheDir = templateCacheDir(user, opts.templateCache);
      const t0 = performance.now();
      const jailed = (bin: string, args: readonly string[]) => cluster.jailedCommand(bin, args);
      if (opts.populate) cluster.superuser = (await opts.populate(dataDir, jailed)).superuser ?? superuser;
      let from = opts.populate ? 'restored' as const : await createDataDir({ bins: opts.bins, dataDir, superuser, user, cacheDir, signal: opts.signal, spare: opts.spare, jailed }).catch((err) => {
        throw new EnvironmentError(`initdb of the ${label} failed`, (err as ToolError).stderrTail, { cause: err });
      });
      opts.logger.debug(`${label}: data directory from ${ORIGIN[from]} in ${Math.round(performance.now() - t0)} ms`);
      const conf = sandboxConf(socketDir, opts.settings);
      await appendFile(join(dataDir, 'postgresql.conf'), conf);
      // The postmaster inherits pg_ctl's network namespace, and so does every program it runs (COPY … PROGRAM).
      const start = jailedCommand(jail, opts.bins.path('pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', String(Math.max(1, Math.ceil(opts.startTimeoutSeconds ?? 60))), 'start'], { ...view, dieWithParent: false });
      const startServer = () => runProcess({ ...start, detached: true, signal: opts.signal });
      launched = true;
      await startServer().catch(async (err) => {
        if (from !== 'initdb' && from !== 'restored' && !opts.signal?.aborted) {
          // A template that will not start is dropped; the sandbox gets a fresh initdb instead.
          opts.logger.warn(`the ${label} would not start from the initdb template: ${(err as ToolError).stderrTail?.trim().slice(-300) ?? err}; running initdb instead`);
          await dropTemplate(templatePath(cacheDir!, opts.bins, superuser));
          await removeTree(dataDir);
          from = await createDataDir({ bins: opts.bins, dataDir, superuser, user, cacheDir: null, signal: opts.signal, jailed });
          await appendFile(join(dataDir, 'postgresql.conf'), conf);
          return startServer();
        }
        throw err;
      }).catch(async (err) => {
        const tail = (await readServerLogTail(logFile, user)) ?? '';
        throw new EnvironmentError(`the ${label} cluster would not start`, tail.slice(-4000) || (err as ToolError).stderrTail, { cause: err });
      });
      opts.logger.debug(`${label}: server up ${Math.round(performance.now() - t0)} ms after the data directory was begun`);
      cluster.dataDirFrom = from;
      if (opts.spare && cacheDir && user) cluster.refill = await SpareRefill.start(templatePath(cacheDir, opts.bins, superuser), dirname(dataDir), () => pruneTemplates(cacheDir)).catch(() => null);
      await afterStartForTests?.(dataDir);
      // pg_ctl has seen the server up, but it may have exited since — a recovery that ended at a FATAL line at once
      // (src/physical/recover.ts): its postmaster.pid is then gone, and the log says why.
      const pidFile = await readForeignText(join(dataDir, 'postmaster.pid'), { maxBytes: MAX_PID_FILE, owners: serverFileOwners(user) });
      const stoppedRightAway = async (why: string) => {
        const tail = (await readServerLogTail(logFile, user)) ?? '';
        return new EnvironmentError(`the ${label} cluster stopped right after it started (${why})`, tail.slice(-4000) || undefined);
      };
      if (pidFile === null) throw await stoppedRightAway('its postmaster.pid is gone, or is not a regular file of its OS user');
      const pid = Number(pidFile.split('\n')[0]);
      // Teardown signals this pid as root: only if /proc shows it is this server (a pid from another PID namespace,
      // say, is not) is it trusted, and recorded for `pgdrill cleanup`.
      const id = await processIdentity(pid);
      // The jail gives the server no PID namespace (jail.ts): a postmaster.pid naming no running process names one
      // that has exited (killed outright, its file left behind). Its pid is not kept: teardown signals nothing.
      if (!id && Number.isInteger(pid) && pid > 0) throw await stoppedRightAway(`its postmaster, pid ${pid}, is not running`);
      cluster.pid = pid;
      const notIt = id ? notThePostmaster(id, { uid: user?.uid ?? process.geteuid?.() ?? 0, dataDir: await realpath(dataDir) }) : 'it is not running';
      if (id && !notIt) {
        cluster.pidStartTicks = id.startTicks;
        cluster.record = await updateSandboxRecord(cluster.record, { postmaster_pid: cluster.pid, postmaster_start_ticks: cluster.pidStartTicks });
      } else {
        cluster.pidTrusted = false;
        opts.logger.warn(`${label}: postmaster.pid names pid ${cluster.pid}, but ${notIt}: teardown stops the server with pg_ctl as its OS user, never by signalling that pid`);
      }
      opts.logger.info(`${label} started: pid ${cluster.pid}, socket ${socketDir}, OS user ${user?.name ?? '(the caller)'}, data directory from ${ORIGIN[from]}, ${jail.networkNamespace ? `own network namespace (${jail.mode})` : jail.note}, ${jail.mountNamespace ? 'sees only its own directories and /usr' : jail.mountNote}`);
      return cluster;
    } catch (err) {
      if (launched) await opts.onFailedStart?.(logFile).catch(() => {});
      await cluster.stop();
      throw err;
    }
  }

  /** Connection settings for node-postgres. */
  connection(database = 'postgres'): ConnectionConfig {
    return { host: this.socketDir, port: this.port, user: this.superuser, database };
  }

  /**
   * A client program that runs as the sandbox's OS user inside the sandbox's jail (psql replaying a dump: what a
   * psql meta-command could run is confined like the server; initdb). It reaches the server through the Unix
   * socket and, with bwrap, sees nothing of the host but /usr and the sandbox's own directories.
   */
  jailedCommand(bin: string, args: readonly string[]): JailedCommand {
    return jailedCommand(this.jail, bin, args, this.view);
  }

  /** Environment for PostgreSQL's client programs. */
  env(database = 'postgres'): Record<string, string> {
    return { PGHOST: this.socketDir, PGPORT: String(this.port), PGUSER: this.superuser, PGDATABASE: database };
  }

  /** A libpq URL of the sandbox (no secrets: trust over a private socket). */
  url(database = 'postgres'): string {
    return `postgresql://${encodeURIComponent(this.superuser)}@/${encodeURIComponent(database)}?host=${encodeURIComponent(this.socketDir)}&port=${this.port}`;
  }

  /** Open a session on one of the sandbox's databases. */
  async open(database = 'postgres', signal?: AbortSignal): Promise<DbSession> {
    return DbSession.open(this.connection(database), { signal });
  }

  /**
   * The startup options of the sessions that look at a restored copy (pgdrill's checks, its pg_dump and pg_amcheck):
   * on PostgreSQL 17+ `event_triggers=off`, so that none of the copy's event triggers fires for them — a login
   * trigger that writes would change the very copy they compare with the source at each of their logins. The
   * restore itself runs without it (it replays what the dump holds). Before 17 there is neither the setting nor a
   * login event; pgdrill's own DDL there holds the triggers off itself (src/fidelity/own-ddl.ts).
   *
   * A dump made with `pg_dump --create` restores its database's own settings (`ALTER DATABASE … SET`), which every
   * later session takes: a production `statement_timeout` or `idle_in_transaction_session_timeout` would cancel the
   * read-back of a large table or end the catalog's snapshot, `quote_all_identifiers` or `standard_conforming_strings`
   * change how names and literals print. The checks run with the server's defaults for all of them.
   */
  get checkOptions(): string {
    const major = this.bins.server.version.major;
    return [
      '-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0',
      ...(major >= 17 ? ['-c transaction_timeout=0 -c event_triggers=off'] : []),
      '-c quote_all_identifiers=off -c standard_conforming_strings=on',
    ].join(' ');
  }

  /** A session that looks at the restored copy: `open`, with `checkOptions`. */
  async openForChecks(database = 'postgres', signal?: AbortSignal): Promise<DbSession> {
    const options = this.checkOptions;
    return DbSession.open({ ...this.connection(database), ...(options ? { options } : {}) }, { signal });
  }

  /** Environment of a client program that looks at the restored copy: `env`, with `checkOptions` as PGOPTIONS. */
  checkEnv(database = 'postgres'): Record<string, string> {
    const options = this.checkOptions;
    return { ...this.env(database), ...(options ? { PGOPTIONS: options } : {}) };
  }

  /** The cluster's system_identifier, as text. */
  async systemIdentifier(): Promise<string> {
    await using db = await this.open();
    return await db.value<string>('SELECT system_identifier::text FROM pg_control_system()');
  }

  /** Was teardown already done? */
  get teardown(): TeardownResult | null {
    return this.stopped;
  }

  /**
   * Record that the sandbox is left running on purpose (--keep): `pgdrill cleanup` leaves it unless `--include-kept`.
   * Only pgdrill's record says so: the marker inside is the sandbox user's to replace (by a link, say), never rewritten.
   */
  async markKept(): Promise<void> {
    if (this.record) this.record = await updateSandboxRecord(this.record, { kept: true });
  }

  /** The postmaster's pid, once read from postmaster.pid (null before, or when the start failed). */
  get postmasterPid(): number | null {
    return this.pid;
  }

  /** Is the postmaster pgdrill started still there (not another process that reuses its pid)? */
  private postmasterAlive(): boolean {
    return this.pid !== null && processAlive(this.pid, this.pidStartTicks);
  }

  /**
   * Is the server's postmaster known to be gone? True only when /proc showed it to be this sandbox's and it is no
   * longer there: a postmaster killed outright (SIGKILL) leaves its postmaster.pid behind, so that file alone
   * cannot tell. False when running, or when it cannot be known.
   */
  postmasterGone(): boolean {
    return this.pid !== null && this.pidTrusted && !this.postmasterAlive();
  }

  /** End the spare copy made beside the sandbox (see `spare`), for a sandbox left running: nothing else of pgdrill's outlives it. */
  async endSpareRefill(): Promise<void> {
    await this.refill?.stop();
  }

  /** Stop the server, delete its files, and confirm that neither the process nor the directories remain. Idempotent. */
  async stop(): Promise<TeardownResult> {
    if (this.stopped) return this.stopped;
    const notes: string[] = [];
    // A postmaster that is not there to shut down (killed outright, or never known) may have left its children
    // running: they are ended below, before the directory they work in is removed.
    const orphansPossible = !(this.pid !== null && this.pidTrusted && this.postmasterAlive());
    await this.endSpareRefill(); // a spare still being copied is ended and removed
    if (await exists(join(this.dataDir, 'postmaster.pid'))) {
      if (this.pid === null) {
        // Not known yet (start failed half-way): postmaster.pid is the sandbox user's file, so the pid it names is
        // signalled only if /proc shows it is this sandbox's postmaster.
        const named = Number(((await readForeignText(join(this.dataDir, 'postmaster.pid'), { maxBytes: MAX_PID_FILE, owners: this.serverFileOwners })) ?? '').split('\n')[0]);
        const id = await processIdentity(named);
        const dataDir = await realpath(this.dataDir).catch(() => this.dataDir);
        const why = id && notThePostmaster(id, { uid: this.osUser?.uid ?? process.geteuid?.() ?? 0, dataDir });
        if (id && !why) [this.pid, this.pidStartTicks] = [named, id.startTicks];
        else if (id) notes.push(`postmaster.pid names pid ${named}, not signalled: ${why}`);
      }
      // Immediate shutdown (SIGQUIT to the postmaster, what `pg_ctl -m immediate` sends): the cluster is deleted
      // next, so the shutdown checkpoint of a fast stop — writing out every dirty buffer of the restore — would be
      // work thrown away, and pg_ctl's wait polls only every 100 ms. pg_ctl when the postmaster cannot be signalled.
      let signalled = false;
      if (this.pid && this.pidTrusted && this.postmasterAlive()) {
        try {
          process.kill(this.pid, 'SIGQUIT');
          signalled = true;
        } catch {
          /* not ours to signal (EPERM) or gone: pg_ctl below */
        }
      }
      if (signalled) {
        for (let i = 0; i < 3000 && this.postmasterAlive(); i++) await new Promise((r) => setTimeout(r, 10));
      } else {
        const r = await runProcess({
          bin: this.bins.path('pg_ctl'),
          args: ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'],
          uid: this.osUser?.uid, gid: this.osUser?.gid, allowFailure: true,
        }).catch((e) => ({ exitCode: -1, stderrTail: String(e) }));
        if (r.exitCode !== 0) notes.push(`pg_ctl stop failed: ${r.stderrTail.trim()}`);
      }
    }
    if (this.pid && this.pidTrusted && this.postmasterAlive()) {
      notes.push(`postmaster ${this.pid} still alive after pg_ctl stop; sent SIGKILL`);
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
      for (let i = 0; i < 50 && this.postmasterAlive(); i++) await new Promise((r) => setTimeout(r, 100));
    }
    const orphans = orphansPossible ? await this.endOrphans(notes) : [];
    // A directory that cannot be removed (a mount point inside it, an immutable file, EACCES) is reported below
    // as not confirmed, with the reason, never thrown past the teardown.
    for (const dir of [this.rootDir, this.socketDir]) {
      await removeTree(dir).catch((e: Error) => notes.push(`removing ${dir} failed: ${e.message}`));
    }
    const processGone = (this.pid === null || !this.postmasterAlive()) && orphans.every((o) => !processAlive(o.pid, o.startTicks));
    const dataDirGone = !(await exists(this.rootDir));
    const socketDirGone = !(await exists(this.socketDir));
    const confirmed = processGone && dataDirGone && socketDirGone;
    this.stopped = {
      confirmed,
      postmasterPid: this.pid,
      processGone,
      dataDirGone,
      socketDirGone,
      detail:
        (confirmed
          ? `postmaster ${this.pid ?? '(never started)'} gone; ${this.rootDir} and ${this.socketDir} deleted`
          : `NOT confirmed: process ${processGone ? 'gone' : 'ALIVE'}, data dir ${dataDirGone ? 'gone' : 'PRESENT'}, socket dir ${socketDirGone ? 'gone' : 'PRESENT'}`) +
        (notes.length ? ` (${notes.join('; ')})` : ''),
    };
    // Forgotten only when nothing is left; otherwise the record is what lets `pgdrill cleanup` finish the job.
    if (confirmed && this.record) await dropSandboxRecord(this.record.path).catch(() => {});
    unregisterSandbox(this);
    this.logger.info(`${this.label} torn down: ${this.stopped.detail}`);
    return this.stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * End the server processes a postmaster killed outright left behind: its children outlive it until they notice
   * (the startup process blocked in restore_command, a backend in a long statement). Only processes that /proc shows
   * to run as the sandbox's user with this sandbox's data directory as their working directory (what every server
   * process and the commands it runs have) are signalled (SIGKILL); each is noted. Returns them, to confirm them gone.
   */
  private async endOrphans(notes: string[]): Promise<{ pid: number; startTicks: number | null }[]> {
    const dataDir = await realpath(this.dataDir).catch(() => null);
    if (!dataDir) return [];
    const uid = this.osUser?.uid ?? process.geteuid?.() ?? 0;
    const found: { pid: number; startTicks: number | null }[] = [];
    for (const name of await readdir('/proc').catch(() => [] as string[])) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
      const id = await processIdentity(pid);
      if (!id || id.uids[0] !== uid || id.uids[1] !== uid || id.cwd !== dataDir) continue;
      try {
        process.kill(pid, 'SIGKILL');
        found.push({ pid, startTicks: id.startTicks });
      } catch {
        /* gone meanwhile */
      }
    }
    for (let i = 0; i < 50 && found.some((o) => processAlive(o.pid, o.startTicks)); i++) await new Promise((r) => setTimeout(r, 100));
    if (found.length) notes.push(`ended ${found.length} server process(es) its postmaster left running: pid ${found.map((o) => o.pid).join(', ')}`);
    return found;
  }
}

/**
 * The passwd and group files a bwrap jail shows at /etc/passwd and /etc/group: postgres and initdb look their user
 * up, and nothing else of the host's user list is shown. Root's, 0755/0644, in `dir` (inside the sandbox's directory,
 * removed with it).
 */
async function writeJailIdentity(dir: string, user: OsUser | null): Promise<void> {
  const me = user ?? { name: userInfo().username, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'passwd'), `${me.name}:x:${me.uid}:${me.gid}:pgdrill sandbox:/nonexistent:/usr/sbin/nologin\n`, { mode: 0o644 });
  await writeFile(join(dir, 'group'), `${me.name}:x:${me.gid}:\n`, { mode: 0o644 });
  for (const f of ['passwd', 'group']) await chmod(join(dir, f), 0o644);
}

export { SANDBOX_MARKER };
