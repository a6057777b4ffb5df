/**
 * The jail a throwaway cluster runs in. Restoring a dump means running SQL as a superuser, and a superuser reaches
 * the host: `COPY … PROGRAM` runs a shell command as the server's OS user, `COPY … TO '/path'`, `lo_export` and
 * C functions write files. Refusing such SQL before the restore is the first line (src/scan); the jail is the
 * second, for whatever the scanner cannot see (SQL assembled at run time):
 *
 * - an OS user that owns nothing but the sandbox's directories (src/exec/os-user.ts), and
 * - a network namespace of its own, with no interface but a loopback that is down: the server, and every program
 *   it starts, can open no connection anywhere — not to the internet, not to 127.0.0.1 on the host. pgdrill still
 *   reaches the server through its Unix socket, a file in the host's filesystem: path-bound Unix sockets are not
 *   scoped by network namespaces (only abstract ones are).
 *
 * - where bubblewrap is installed (`bwrap`, mode 'bwrap'), a file system of its own as well: a private mount
 *   namespace holding /usr (read-only), a read-only passwd/group naming only the sandbox's user, an empty /tmp and
 *   /dev, and nothing else but the directories the sandbox is given (its own data directory and socket directory,
 *   bound read-write at the same path). Another drill's sandbox, its dump, the run directories, /root, /home and
 *   /proc are not there at all. bwrap is started *as* the sandbox user (uid/gid of the spawn), so it builds its
 *   namespaces in an unprivileged user namespace mapping only that uid: nothing inside ever holds a capability on
 *   the host, every sandbox has a user namespace of its own (so one sandbox cannot ptrace another's processes,
 *   though both run as the same uid), and no further user namespace can be created inside (`--disable-userns`).
 *   Also private: IPC, UTS, cgroup namespaces; spawned in a session of its own (no terminal). No PID namespace for the
 *   server: postmaster.pid must hold the pid the host sees (pgdrill, `pgdrill cleanup` and the `--keep` stop
 *   command signal it), and /proc is not mounted, so other processes are not listed.
 *
 * Without bwrap, as root the network namespace comes from `unshare --net`, which then drops to the sandbox user
 * (`--setgid`/`--setuid`, supplementary groups cleared) before it executes the program; the program then sees the
 * host's file system with the sandbox user's rights (weaker: the report's `no-mount-namespace` note). Not as root,
 * an unprivileged user namespace (`unshare --user --map-current-user --net`) gives the same network isolation where
 * the kernel allows it; the program still runs as the caller. Where neither works the jail says so (`note`), and
 * the drill reports it.
 */
import { constants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { OsUser } from '../exec/os-user.js';
import { runProcess } from '../exec/run-process.js';

/** How programs of the sandbox are confined. */
export interface Jail {
  /** OS user the programs run as; null = the caller (pgdrill does not run as root). */
  readonly osUser: OsUser | null;
  /** True when every program started through `jailedCommand` gets a fresh network namespace of its own. */
  readonly networkNamespace: boolean;
  /**
   * 'bwrap': bubblewrap started as the OS user (private mount, network, IPC, UTS, user namespaces); 'root':
   * `unshare --net` as root, then setuid; 'userns': an unprivileged user namespace; 'none'.
   */
  readonly mode: 'bwrap' | 'root' | 'userns' | 'none';
  /** True when programs see only /usr and the directories they are given (mode 'bwrap'), not the host's files. */
  readonly mountNamespace: boolean;
  /** Why there is no network namespace (or null when there is one), for the report. */
  readonly note: string | null;
  /** Why there is no private file-system view (bwrap missing or failing), or null with one. */
  readonly mountNote: string | null;
  /** Path of `unshare`, when used. */
  readonly unshare: string | null;
  /** Path of `bwrap`, when used. */
  readonly bwrap: string | null;
}

/** What a program in a bwrap jail sees beyond /usr, an empty /tmp and /dev (paths bound at the same path). */
export interface JailView {
  /** Directories the program may write: the sandbox's own (data and socket directories). */
  readonly rw?: readonly string[];
  /** Files or directories bound read-only. */
  readonly ro?: readonly string[];
  /** A passwd file bound read-only at /etc/passwd (postgres and initdb look their user up), and a group file. */
  readonly passwd?: string;
  readonly group?: string;
  /**
   * End the program when pgdrill ends (`--die-with-parent`). Default true; false for `pg_ctl start`, whose
   * postmaster must outlive it (and a `--keep` sandbox outlives pgdrill).
   */
  readonly dieWithParent?: boolean;
}

/** What to spawn: an argument array plus the uid/gid to spawn it as (none when unshare switches user itself). */
export interface JailedCommand {
  readonly bin: string;
  readonly args: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  /** Spawn it in a process group of its own and signal the group (run-process.ts `group`): set for bwrap. */
  readonly group?: boolean;
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'];
const BWRAP = ['/usr/bin/bwrap', '/bin/bwrap'];
const TRUE = ['/usr/bin/true', '/bin/true'];

const probes = new Map<string, Promise<Jail>>();

/**
 * The jail for programs run as `osUser` (null = the caller). `network` false (default true) asks for none: a
 * program then shares the host's network, which only tests use to prove that the namespace is what blocks a
 * connection. The probe (one `unshare … true`, a few ms) runs once per process and user.
 */
export function resolveJail(osUser: OsUser | null, opts: { network?: boolean } = {}): Promise<Jail> {
  if (forcedMode === 'root') return probeJail(osUser, { bwrap: [] });
  if (opts.network === false || forcedMode === 'none') {
    return Promise.resolve({ osUser, networkNamespace: false, mode: 'none', mountNamespace: false, note: 'network namespace switched off by the caller', mountNote: 'namespaces switched off by the caller', unshare: null, bwrap: null });
  }
  const key = osUser ? `${osUser.uid}:${osUser.gid}` : 'caller';
  let p = probes.get(key);
  if (!p) {
    p = probeJail(osUser);
    probes.set(key, p);
  }
  return p;
}

let forcedMode: 'none' | 'root' | null = null;

/**
 * Tests only (in-process; no flag, config key or environment variable reaches it): make `resolveJail` answer a
 * weaker jail than the machine offers — 'root' (`unshare --net` without bwrap: the host's file system), 'none' (no
 * namespace at all, as in a container without CAP_SYS_ADMIN) — to prove that a defence holds without the jail.
 * null (the default) probes as usual.
 */
export function forceJailModeForTests(mode: 'none' | 'root' | null): void {
  forcedMode = mode;
}

/**
 * Find out, by running `bwrap … true` (else `unshare … true`) the way the server would be started, whether programs
 * run as `osUser` can get a private file-system view and a network namespace. `opts.bwrap` and `opts.unshare`
 * replace the candidate paths of the programs (default /usr/bin/…, /bin/…): tests use them to see the answer where
 * one is missing or fails. Uncached; see `resolveJail`.
 */
export async function probeJail(osUser: OsUser | null, opts: { unshare?: readonly string[]; bwrap?: readonly string[] } = {}): Promise<Jail> {
  const trueBin = await firstExecutable(TRUE);
  if (process.platform !== 'linux') {
    return { osUser, networkNamespace: false, mode: 'none', mountNamespace: false, unshare: null, bwrap: null, note: `no network namespace: ${process.platform} has none; the sandbox shares the host network`, mountNote: `no mount namespace: ${process.platform} has none` };
  }
  const bwrap = await firstExecutable(opts.bwrap ?? BWRAP);
  let mountNote: string;
  if (bwrap && trueBin) {
    const candidate: Jail = { osUser, networkNamespace: true, mode: 'bwrap', mountNamespace: true, note: null, mountNote: null, unshare: null, bwrap };
    const cmd = jailedCommand(candidate, trueBin, []);
    const r = await runProcess({ bin: cmd.bin, args: cmd.args, uid: cmd.uid, gid: cmd.gid, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderrTail: e.message }));
    if (r.exitCode === 0) return candidate;
    mountNote = `no mount namespace: bwrap failed (${r.stderrTail.trim().split('\n').pop() ?? `exit ${r.exitCode}`}; unprivileged user namespaces disabled?)`;
  } else {
    mountNote = 'no mount namespace: bubblewrap (bwrap) is not installed';
  }
  mountNote += `: the sandbox sees the host's file system with the rights of ${osUser ? `OS user ${osUser.name}` : 'the caller'}, so concurrent drills' sandboxes (one OS user) can read each other's files; install bubblewrap (apt-get install bubblewrap)`;
  const unshare = await firstExecutable(opts.unshare ?? UNSHARE);
  if (!unshare || !trueBin) {
    return { osUser, networkNamespace: false, mode: 'none', mountNamespace: false, unshare: null, bwrap: null, mountNote, note: 'no network namespace: unshare (util-linux) was not found; the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)' };
  }
  const isRoot = process.getuid?.() === 0;
  const mode: Jail['mode'] = isRoot && osUser ? 'root' : 'userns';
  const candidate: Jail = { osUser, networkNamespace: true, mode, mountNamespace: false, note: null, mountNote, unshare, bwrap: null };
  const cmd = jailedCommand(candidate, trueBin, []);
  const r = await runProcess({ bin: cmd.bin, args: cmd.args, uid: cmd.uid, gid: cmd.gid, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderrTail: e.message }));
  if (r.exitCode === 0) return candidate;
  const why = r.stderrTail.trim().split('\n').pop() ?? `exit ${r.exitCode}`;
  return {
    osUser, networkNamespace: false, mode: 'none', mountNamespace: false, unshare: null, bwrap: null, mountNote,
    note: mode === 'root'
      ? `no network namespace: unshare --net failed (${why}; a container without CAP_SYS_ADMIN?); the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)`
      : `no network namespace: not root, and unprivileged user namespaces are unavailable (${why}); the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)`,
  };
}

/**
 * Wrap a program of the sandbox (server, initdb, psql) in the jail: with bwrap `bwrap … -- BIN …` spawned as the OS
 * user, seeing /usr and `view` only; as root `unshare --net --setgid G --setuid U -- BIN …` spawned as root
 * (unshare needs CAP_SYS_ADMIN, then drops it by switching user); with a user namespace
 * `unshare --user --map-current-user --net -- BIN …`; with no namespace BIN itself, spawned as the OS user.
 */
export function jailedCommand(jail: Jail, bin: string, args: readonly string[], view: JailView = {}): JailedCommand {
  if (jail.mode === 'bwrap' && jail.bwrap) {
    return { bin: jail.bwrap, args: [...bwrapArgs(bin, view, { userns: true, net: jail.networkNamespace, pid: false }), '--', bin, ...args], uid: jail.osUser?.uid, gid: jail.osUser?.gid, group: true };
  }
  if (jail.networkNamespace && jail.unshare && jail.mode === 'root' && jail.osUser) {
    const u = jail.osUser;
    return { bin: jail.unshare, args: ['--net', `--setgid=${u.gid}`, `--setuid=${u.uid}`, '--', bin, ...args] };
  }
  if (jail.networkNamespace && jail.unshare && jail.mode === 'userns') {
    return { bin: jail.unshare, args: ['--user', '--map-current-user', '--net', '--', bin, ...args] };
  }
  return { bin, args, uid: jail.osUser?.uid, gid: jail.osUser?.gid };
}

/**
 * The host's top-level system links and directories (/bin, /lib, … — links into /usr on a merged-/usr system),
 * reproduced inside a bwrap jail: links as links, directories bound read-only.
 */
let systemView: string[] | null = null;
function systemLinks(): string[] {
  if (systemView) return systemView;
  const out: string[] = [];
  for (const p of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push('--symlink', readlinkSync(p), p);
      else if (st.isDirectory()) out.push('--ro-bind', p, p);
    } catch {
      /* not on this system */
    }
  }
  return (systemView = out);
}

/**
 * bwrap's options for running `bin`: /usr read-only (and, when `bin` is outside /usr, its directory and the
 * installation's lib/ and share/ beside it), /dev, an empty /tmp and /dev/shm,
 * `view`'s paths at the same path; no /proc, no /etc but the passwd/group given, no environment beyond the one
 * spawned with. `userns`: an unprivileged user namespace of its own (bwrap started as the OS user), in which no
 * further one can be made; `pid`: a PID namespace (short-lived readers only, see the module's comment).
 */
export function bwrapArgs(bin: string, view: JailView, o: { readonly userns: boolean; readonly net: boolean; readonly pid: boolean }): string[] {
  const a = [
    ...(o.userns ? ['--unshare-user', '--disable-userns'] : []),
    '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', ...(o.net ? ['--unshare-net'] : []), ...(o.pid ? ['--unshare-pid'] : []),
    // No --new-session: the program must stay in the process group pgdrill signals (JailedCommand.group). It is
    // spawned in a session of its own, so it has no controlling terminal to inject input into (TIOCSTI) anyway.
    ...(view.dieWithParent === false ? [] : ['--die-with-parent']),
    '--ro-bind', '/usr', '/usr', ...systemLinks(), '--dev', '/dev', '--tmpfs', '/dev/shm', '--tmpfs', '/tmp',
  ];
  // The program's directory, and its installation's lib/ and share/ beside it (embedded builds: `…/native/bin`,
  // `…/native/lib`), when outside /usr — never the directory above, which may be /tmp or / itself.
  const bindir = dirname(bin);
  if (bindir !== '/usr' && !bindir.startsWith('/usr/')) {
    // Embedded builds find their libraries through `$ORIGIN/../lib`, which glibc resolves by reading /proc/self/exe:
    // with no /proc in the jail it falls back to LD_ORIGIN_PATH (initdb and pg_ctl start postgres from the same bindir).
    a.push('--ro-bind', bindir, bindir, '--setenv', 'LD_ORIGIN_PATH', bindir);
    for (const sub of ['lib', 'share']) {
      const p = join(dirname(bindir), sub);
      if (p !== '/lib' && existsSync(p)) a.push('--ro-bind', p, p);
    }
  }
  // Debian's alternatives: packages such as PostGIS install their extension control files and libraries as links
  // through /etc/alternatives back into /usr. Without it those links dangle in the jail, and the server's listing of
  // available extensions fails on every drill, whatever the dump holds. Root's directory of links only; read-only.
  a.push('--ro-bind-try', '/etc/alternatives', '/etc/alternatives');
  if (view.passwd) a.push('--ro-bind', view.passwd, '/etc/passwd');
  if (view.group) a.push('--ro-bind', view.group, '/etc/group');
  for (const p of view.ro ?? []) a.push('--ro-bind', p, p);
  for (const p of view.rw ?? []) a.push('--bind', p, p);
  a.push('--chdir', '/');
  return a;
}

async function firstExecutable(paths: readonly string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}
