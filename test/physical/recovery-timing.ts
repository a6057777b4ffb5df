/**
 * Forcing the moment a physical drill's recovery ends, relative to what pgdrill watches: a restore_command that
 * serves the segments the archive holds at once but holds every lookup past them (the end of the WAL, where
 * recovery ends) until a gate file appears beside the data directory, and a hook run when `pg_ctl start` has
 * returned that opens the gate and waits for what the test wants (the postmaster gone, or the copy promoted)
 * before pgdrill reads the postmaster's pid. Deterministic: no sleep decides which path is taken.
 */
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setRestoreCommandForTests } from '../../src/physical/recovery-setup.js';
import { setAfterStartForTests } from '../../src/sandbox/cluster.js';
import { isAlive } from '../../src/exec/process-liveness.js';

const GATE = 'gate';

/**
 * The restore_command (it runs in the data directory; pgdrill stages the archive at `../wal-archive`): history
 * files and the segments `archive` holds (by position, any timeline) at once; any other lookup waits for
 * `../gate` (at most `holdSeconds`), then copies as pgdrill's own command does.
 */
export async function gatedRestoreCommand(archive: string, holdSeconds: number, holdAll = false): Promise<string> {
  const positions = holdAll ? [] : [...new Set((await readdir(archive)).filter((f) => /^[0-9A-F]{24}$/.test(f)).map((f) => f.slice(8)))];
  const copy = 'cp "../wal-archive/%f" "%p"';
  const wait = `i=0; while [ ! -e ../${GATE} ] && [ $i -lt ${holdSeconds * 20} ]; do sleep 0.05; i=$((i+1)); done`;
  return `case "%f" in *.history${positions.map((p) => `|*${p}`).join('')}) ;; *) ${wait};; esac; ${copy}`;
}

/** What happened once `pg_ctl start` returned: whether the hook ran, and what it saw. */
export interface StartHold {
  ran: boolean;
  /** The postmaster was gone (its postmaster.pid removed) when pgdrill went on to read it. */
  postmasterGone: boolean;
  /** The pid of the process the test killed or stopped (the postmaster; the startup process for `startup-killed-while-waited`), once it did. */
  killed: number | null;
}

/**
 * When the recovery ends, relative to pgdrill's watch. Once `pg_ctl start` has returned — `exited`: the gate opens
 * and the hook waits until the postmaster has exited (recovery ended, postmaster.pid gone); `promoted`: the gate
 * opens and the hook waits until the copy accepts connections; `killed`: the postmaster is killed outright (its
 * postmaster.pid stays); `killed-while-waited`: it is killed once pgdrill's first connection has been refused (pgdrill
 * is waiting for the promotion); `stopped-while-waited`: then, the postmaster is sent SIGINT — what `pg_ctl stop` (fast,
 * its default) sends; `startup-killed-while-waited`: then, the startup process (the recovery itself) crashes
 * (SIGSEGV), as bad WAL can crash it. `never`: the gate holds every segment, the first too — recovery never
 * begins within `holdSeconds`, and `pg_ctl start -w` waits.
 */
export type RecoveryEnd = 'exited' | 'promoted' | 'killed' | 'killed-while-waited' | 'stopped-while-waited' | 'startup-killed-while-waited' | 'never';

const exists = (p: string) => access(p).then(() => true, () => false);
const logOf = (dataDir: string) => readFile(join(dirname(dataDir), 'postgres.log'), 'utf8').catch(() => '');

/** Poll `done` every 100 ms, for up to two minutes or until `over()`. */
async function until(done: () => Promise<boolean>, over = () => false): Promise<void> {
  for (let i = 0; i < 1200 && !over() && !(await done()); i++) await sleep(100);
}

/** Send `signal` to the postmaster of `dataDir` and wait until it is gone; its pid. */
async function killPostmaster(dataDir: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  process.kill(pid, signal);
  await until(async () => !isAlive(pid));
  return pid;
}

/** Crash the startup process (the postmaster's child "postgres: startup …") of `dataDir`'s server with SIGSEGV, as bad WAL can; its pid. */
async function killStartupProcess(dataDir: string): Promise<number> {
  const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== postmaster || !/\bstartup\b/.test(await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => ''))) continue;
    process.kill(Number(name), 'SIGSEGV');
    await until(async () => !isAlive(postmaster));
    return Number(name);
  }
  throw new Error(`no startup process under postmaster ${postmaster}`);
}

/**
 * Recover every physical drill with the gated restore_command, and end its recovery as `end` says. Returns what
 * the hook saw and how to undo it all.
 */
export async function holdRecoveryEnd(archive: string, end: RecoveryEnd, holdSeconds = 60): Promise<{ hold: StartHold } & Disposable> {
  const hold: StartHold = { ran: false, postmasterGone: false, killed: null };
  let disposed = false;
  setRestoreCommandForTests(await gatedRestoreCommand(archive, holdSeconds, end === 'never'));
  if (end !== 'never') setAfterStartForTests(async (dataDir) => {
    hold.ran = true;
    if (end === 'killed') hold.killed = await killPostmaster(dataDir);
    else if (end.endsWith('-while-waited')) {
      // Not awaited: pgdrill goes on, and its first refused connection is logged by the server.
      const refused = async () => /FATAL:\s+the database system is (starting up|not (yet )?accepting connections)/.test(await logOf(dataDir));
      void until(refused, () => disposed).then(async () => {
        if (!(await refused())) return;
        hold.killed = end === 'startup-killed-while-waited' ? await killStartupProcess(dataDir) : await killPostmaster(dataDir, end === 'stopped-while-waited' ? 'SIGINT' : 'SIGKILL');
      }).catch(() => {});
    } else {
      await writeFile(join(dirname(dataDir), GATE), '');
      await until(async () => end === 'exited' ? !(await exists(join(dataDir, 'postmaster.pid'))) : /database system is ready to accept connections/.test(await logOf(dataDir)));
    }
    hold.postmasterGone = !(await exists(join(dataDir, 'postmaster.pid')));
  });
  return {
    hold,
    [Symbol.dispose]() {
      disposed = true;
      setRestoreCommandForTests(null);
      setAfterStartForTests(null);
    },
  };
}
