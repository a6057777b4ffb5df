/**
 * Confinement of the programs that read an artefact (pg_restore --list, pg_restore -f -, the pg_restore of a
 * restore). An artefact is not trusted: a directory archive whose data file is a symbolic link, or whose toc.dat
 * names `../../etc/shadow`, would make pg_restore — run as root — read any file of the host and hand its content to
 * the report. The artefact's entries are validated before any tool runs, but a check and the later open are two
 * moments (an entry swapped in between, a case the validation does not know): the reader itself must not be able
 * to reach anything else.
 *
 * So a reader runs in bubblewrap with a file system of its own: /usr (read-only), an empty /tmp and /dev, the
 * artefact (read-only, at its own path) and, for a restore, the sandbox's socket directory — nothing else. A link
 * in the archive resolves inside that view, to nothing. As root bwrap is run without a user namespace (one would
 * map the reader to root outside) and drops every capability (`--cap-drop ALL`; a restore keeps only
 * CAP_DAC_OVERRIDE, to reach the sandbox's 0700 socket: within a view that holds only /usr and the artefact, both
 * read-only, and that socket directory). Also private: PID, network, IPC and UTS namespaces, a session of its own,
 * and it dies with pgdrill. Not as root it runs as the caller in an unprivileged user namespace.
 *
 * Where bwrap is missing or fails, readers run as before (the caller, full view) and `note` says so.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { runProcess } from '../exec/run-process.js';
import { bwrapArgs, type JailedCommand } from './jail.js';

/** How readers of an artefact are confined. */
export interface ReaderJail {
  /** Path of bwrap, or null: readers run unconfined. */
  readonly bwrap: string | null;
  /** bwrap runs as root (no user namespace, capabilities dropped) rather than as the caller in a user namespace. */
  readonly asRoot: boolean;
  /** Why readers are not confined, or null when they are. */
  readonly note: string | null;
}

/** What a reader sees beyond /usr, /dev and an empty /tmp. */
export interface ReaderView {
  /** The artefact (file or directory) and anything else it must read, bound read-only at the same path. */
  readonly ro: readonly string[];
  /** The sandbox's socket directory, for a pg_restore that restores (it connects to the sandbox). */
  readonly socketDir?: string;
}

const BWRAP = ['/usr/bin/bwrap', '/bin/bwrap'];
let probe: Promise<ReaderJail> | null = null;

/** The reader jail of this process (probed once: one `bwrap … true`, a few ms). */
export function resolveReaderJail(): Promise<ReaderJail> {
  return (probe ??= probeReaderJail());
}

/**
 * Find out whether readers can be confined, by running `bwrap … true` as they would be. `opts.bwrap` replaces the
 * candidate paths of bwrap (tests). Uncached; see `resolveReaderJail`.
 */
export async function probeReaderJail(opts: { readonly bwrap?: readonly string[] } = {}): Promise<ReaderJail> {
  const asRoot = process.getuid?.() === 0;
  let bwrap: string | null = null;
  for (const p of opts.bwrap ?? BWRAP) {
    if (await access(p, constants.X_OK).then(() => true, () => false)) {
      bwrap = p;
      break;
    }
  }
  if (!bwrap || process.platform !== 'linux') {
    return { bwrap: null, asRoot, note: `artefact readers are not confined: bubblewrap (bwrap) is not installed, so pg_restore reads the artefact with ${asRoot ? 'root\'s' : 'the caller\'s'} full view of the host (a link in an archive could reach any file): install bubblewrap` };
  }
  const candidate: ReaderJail = { bwrap, asRoot, note: null };
  const cmd = readerCommand(candidate, '/usr/bin/true', [], { ro: [] });
  const r = await runProcess({ ...cmd, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderrTail: e.message }));
  if (r.exitCode === 0) return candidate;
  return { bwrap: null, asRoot, note: `artefact readers are not confined: bwrap failed (${r.stderrTail.trim().split('\n').pop() ?? `exit ${r.exitCode}`}), so pg_restore reads the artefact with ${asRoot ? 'root\'s' : 'the caller\'s'} full view of the host` };
}

/** `bin args` confined to `view` (unconfined when the jail has no bwrap). */
export function readerCommand(j: ReaderJail, bin: string, args: readonly string[], view: ReaderView): JailedCommand {
  if (!j.bwrap) return { bin, args };
  const caps = j.asRoot ? ['--cap-drop', 'ALL', ...(view.socketDir ? ['--cap-add', 'CAP_DAC_OVERRIDE'] : [])] : [];
  const a = bwrapArgs(bin, { ro: view.ro, rw: view.socketDir ? [view.socketDir] : [] }, { userns: !j.asRoot, net: true, pid: true });
  return { bin: j.bwrap, args: [...caps, ...a, '--', bin, ...args], group: true };
}
