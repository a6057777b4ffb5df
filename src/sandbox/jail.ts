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
 * As root the namespace comes from `unshare --net`, which then drops to the sandbox user (`--setgid`/`--setuid`,
 * supplementary groups cleared) before it executes the program. Not as root, an unprivileged user namespace
 * (`unshare --user --map-current-user --net`) gives the same network isolation where the kernel allows it; the
 * program still runs as the caller. Where neither works the jail says so (`note`), and the drill reports it.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { OsUser } from '../exec/os-user.js';
import { runProcess } from '../exec/run-process.js';

/** How programs of the sandbox are confined. */
export interface Jail {
  /** OS user the programs run as; null = the caller (pgdrill does not run as root). */
  readonly osUser: OsUser | null;
  /** True when every program started through `jailedCommand` gets a fresh network namespace of its own. */
  readonly networkNamespace: boolean;
  /** 'root': `unshare --net` as root, then setuid; 'userns': an unprivileged user namespace; 'none'. */
  readonly mode: 'root' | 'userns' | 'none';
  /** Why there is no network namespace (or null when there is one), for the report. */
  readonly note: string | null;
  /** Path of `unshare`, when used. */
  readonly unshare: string | null;
}

/** What to spawn: an argument array plus the uid/gid to spawn it as (none when unshare switches user itself). */
export interface JailedCommand {
  readonly bin: string;
  readonly args: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'];
const TRUE = ['/usr/bin/true', '/bin/true'];

const probes = new Map<string, Promise<Jail>>();

/**
 * The jail for programs run as `osUser` (null = the caller). `network` false (default true) asks for none: a
 * program then shares the host's network, which only tests use to prove that the namespace is what blocks a
 * connection. The probe (one `unshare … true`, a few ms) runs once per process and user.
 */
export function resolveJail(osUser: OsUser | null, opts: { network?: boolean } = {}): Promise<Jail> {
  if (opts.network === false) {
    return Promise.resolve({ osUser, networkNamespace: false, mode: 'none', note: 'network namespace switched off by the caller', unshare: null });
  }
  const key = osUser ? `${osUser.uid}:${osUser.gid}` : 'caller';
  let p = probes.get(key);
  if (!p) {
    p = probeJail(osUser);
    probes.set(key, p);
  }
  return p;
}

/**
 * Find out, by running `unshare … true` the way the server would be started, whether programs run as `osUser` can
 * get a network namespace. `opts.unshare` replaces the candidate paths of unshare (default /usr/bin/unshare,
 * /bin/unshare): tests use it to see the answer where unshare is missing or fails. Uncached; see `resolveJail`.
 */
export async function probeJail(osUser: OsUser | null, opts: { unshare?: readonly string[] } = {}): Promise<Jail> {
  const unshare = await firstExecutable(opts.unshare ?? UNSHARE);
  const trueBin = await firstExecutable(TRUE);
  if (!unshare || !trueBin) {
    return { osUser, networkNamespace: false, mode: 'none', unshare: null, note: 'no network namespace: unshare (util-linux) was not found; the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)' };
  }
  const isRoot = process.getuid?.() === 0;
  if (process.platform !== 'linux') {
    return { osUser, networkNamespace: false, mode: 'none', unshare: null, note: `no network namespace: ${process.platform} has none; the sandbox shares the host network` };
  }
  const mode: Jail['mode'] = isRoot && osUser ? 'root' : 'userns';
  const candidate: Jail = { osUser, networkNamespace: true, mode, note: null, unshare };
  const cmd = jailedCommand(candidate, trueBin, []);
  const r = await runProcess({ bin: cmd.bin, args: cmd.args, uid: cmd.uid, gid: cmd.gid, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderrTail: e.message }));
  if (r.exitCode === 0) return candidate;
  const why = r.stderrTail.trim().split('\n').pop() ?? `exit ${r.exitCode}`;
  return {
    osUser, networkNamespace: false, mode: 'none', unshare: null,
    note: mode === 'root'
      ? `no network namespace: unshare --net failed (${why}; a container without CAP_SYS_ADMIN?); the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)`
      : `no network namespace: not root, and unprivileged user namespaces are unavailable (${why}); the sandbox shares the host network (it listens on no TCP port, but programs it runs could connect out)`,
  };
}

/**
 * Wrap a program of the sandbox (server, psql) in the jail: as root `unshare --net --setgid G --setuid U -- BIN …`
 * spawned as root (unshare needs CAP_SYS_ADMIN, then drops it by switching user); with a user namespace
 * `unshare --user --map-current-user --net -- BIN …`; with no namespace BIN itself, spawned as the OS user.
 */
export function jailedCommand(jail: Jail, bin: string, args: readonly string[]): JailedCommand {
  if (jail.networkNamespace && jail.unshare && jail.mode === 'root' && jail.osUser) {
    const u = jail.osUser;
    return { bin: jail.unshare, args: ['--net', `--setgid=${u.gid}`, `--setuid=${u.uid}`, '--', bin, ...args] };
  }
  if (jail.networkNamespace && jail.unshare && jail.mode === 'userns') {
    return { bin: jail.unshare, args: ['--user', '--map-current-user', '--net', '--', bin, ...args] };
  }
  return { bin, args, uid: jail.osUser?.uid, gid: jail.osUser?.gid };
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
